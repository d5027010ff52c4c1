#!/usr/bin/env bash
# check_layering.sh [COMPILER_DIR]: fails when a file under compiler/
# includes a header of a layer it must not see (docs/DESIGN.md, "Layers"):
#
#   parse -> sema -> lower (AST -> IR) -> ir, transforms, ad, batch
#         (IR -> IR; batch above ad) -> codegen -> jit;  pipeline/ above
#         all stages;  driver/ on top.
#
# ANTLR's headers are for compiler/parse only. ctest runs this (test
# `layering`); so does test/Tools/check-layering.test, on a broken tree.
set -u
root=${1:-"$(cd "$(dirname "$0")/.." && pwd)/compiler"}

# The project folders a folder may include from (besides itself).
allowed() {
  case $1 in
  support) echo "" ;;
  parse) echo "support" ;;
  ir) echo "support" ;;
  sema) echo "parse ir support" ;;
  lower) echo "sema parse ir support" ;;
  transforms) echo "ir support" ;;
  ad) echo "ir support" ;;
  batch) echo "ad ir support" ;;
  codegen) echo "ir support" ;;
  jit) echo "support" ;;
  pipeline) echo "lower sema parse transforms ad batch codegen jit ir support" ;;
  driver) echo "pipeline lower sema parse transforms ad batch codegen jit ir support" ;;
  *) echo "?" ;;
  esac
}
layers="support parse ir sema lower transforms ad batch codegen jit pipeline driver"

status=0
for dir in "$root"/*/; do
  layer=$(basename "$dir")
  ok=$(allowed "$layer")
  if [ "$ok" = "?" ]; then
    echo "check_layering: compiler/$layer/ is not a known layer (add it to tools/check_layering.sh)"
    status=1
    continue
  fi
  while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' <<<"${rest#*:}")
    [ -n "$inc" ] || continue
    target=${inc%%/*}
    rel=${file#"$root"/}
    if [ "$target" = "$inc" ]; then
      # No folder: a generated or third-party header.
      case $inc in
      antlr4-runtime.h | BP*.h)
        if [ "$layer" != parse ]; then
          echo "compiler/$rel:$line: includes \"$inc\": only compiler/parse sees ANTLR"
          status=1
        fi
        ;;
      esac
      continue
    fi
    case " $layers " in *" $target "*) ;; *) continue ;; esac
    [ "$target" = "$layer" ] && continue
    case " $ok " in
    *" $target "*) ;;
    *)
      echo "compiler/$rel:$line: $layer/ includes \"$inc\" (allowed: ${ok:-nothing}; tools/check_layering.sh)"
      status=1
      ;;
    esac
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$dir" --include='*.h' --include='*.cpp' --include='*.def')
done
[ $status -eq 0 ] && echo "check_layering: ok"
exit $status
