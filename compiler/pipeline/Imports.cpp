//===- Imports.cpp - import: one program from several files ---------------===//
//
// A depth-first walk over the imports. A file is known by its canonical path
// (so `lib.bp` and `./sub/../lib.bp` are one file) and is in one of two
// states: on the current chain of imports (importing it again is a cycle) or
// done (importing it again is a diamond: nothing to do). Each file read is
// appended to the one SourceFile and parsed with its first line there, so
// every Loc of its AST points into that text.
//
//===----------------------------------------------------------------------===//
#include "pipeline/Imports.h"

#include "parse/Parser.h"
#include "support/FileIO.h"

#include <algorithm>
#include <filesystem>
#include <map>

namespace bp {
namespace {

namespace fs = std::filesystem;

/// One file for every spelling of its path: the canonical path where the
/// file exists, else the path made normal.
std::string identity(const std::string &path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(path, ec);
  return ec ? fs::path(path).lexically_normal().string() : p.string();
}

/// `path` as written in a file at `importer`: relative to its folder.
std::string resolve(const std::string &importer, const std::string &path) {
  fs::path p(path);
  if (p.is_relative())
    p = fs::path(importer).parent_path() / p;
  return p.lexically_normal().string();
}

class Loader {
public:
  Loader(SourceFile &file, DiagEngine &diags) : file(file), diags(diags) {}

  void run(ast::Module &main) {
    std::string mainPath = file.origin(main.imports.front().loc.line).path;
    if (file.origins.empty()) { // a real file: name each of its lines
      std::string text = std::move(file.text);
      file.text.clear();
      append(file.path, std::move(text));
    } else if (!file.text.empty() && file.text.back() != '\n') {
      file.text += '\n'; // the REPL's text: whole lines already
    }
    state[identity(mainPath)] = State::OnChain;
    chain.push_back({mainPath, {}});
    std::vector<ast::ItemPtr> items;
    visit(main, items);
    for (auto &it : main.items)
      items.push_back(std::move(it));
    main.items = std::move(items);
  }

private:
  enum class State { OnChain, Done };
  struct Step {
    std::string path; // as shown in diagnostics
    Loc importedAt;   // the path string of the import that read it
  };

  SourceFile &file;
  DiagEngine &diags;
  std::map<std::string, State> state;
  std::vector<Step> chain; // the file given, then each import being read

  /// Appends the lines of `text`, read from `path`, and one empty line (an
  /// error at the end of the file, after its last newline, is then shown in
  /// it, not at the next file's first line). Returns the line its first line
  /// got. Invariant: `file.text` ends in a newline and has one origin per
  /// line.
  uint32_t append(const std::string &path, std::string text) {
    if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) // as the parser skips it
      text.erase(0, 3);
    if (!text.empty() && text.back() != '\n')
      text += '\n';
    uint32_t first = (uint32_t)file.origins.size() + 1;
    uint32_t n = (uint32_t)std::count(text.begin(), text.end(), '\n');
    file.text += text + '\n';
    for (uint32_t l = 1; l <= n + 1; ++l)
      file.origins.push_back({path, l});
    return first;
  }

  void visit(ast::Module &m, std::vector<ast::ItemPtr> &out) {
    for (const ast::Import &imp : m.imports) {
      std::string from = file.origin(imp.loc.line).path;
      if (imp.path.find('\0') != std::string::npos) {
        diags.error(imp.pathLoc, "a path cannot contain a NUL character");
        continue;
      }
      std::string path = resolve(from, imp.path);
      std::string id = identity(path);
      auto known = state.find(id);
      if (known != state.end()) {
        if (known->second == State::OnChain)
          cycle(imp, path, id);
        continue; // done: a diamond reads a file once
      }
      std::string text;
      ReadResult read = readRegularFile(path, maxSourceBytes, text);
      if (!read) {
        diags.error(
            imp.pathLoc,
            "cannot import \"" + imp.path + "\": " +
                describeReadFailure(read, path, "imported file",
                                    maxSourceBytes) +
                (read.failure == ReadFailure::Open && !read.reason.empty()
                     ? ": " + read.reason
                     : ""));
        continue;
      }
      state[id] = State::OnChain;
      chain.push_back({path, imp.pathLoc});
      SourceFile alone{path, text, {}};
      uint32_t first = append(path, text);
      std::unique_ptr<ast::Module> sub = parseModule(alone, diags, first);
      if (sub) {
        visit(*sub, out);
        for (auto &it : sub->items) {
          if (it->kind == ast::ItemKind::Train) {
            diags.error(it->loc, "a 'train' block must be in the file given "
                                 "to bpc, not in an imported file");
            continue;
          }
          out.push_back(std::move(it));
        }
      }
      chain.pop_back();
      state[id] = State::Done;
    }
  }

  /// `imp` in the last file of the chain imports `path`, which is on it.
  void cycle(const ast::Import &imp, const std::string &path,
             const std::string &id) {
    size_t k = 0;
    while (k < chain.size() && identity(chain[k].path) != id)
      ++k;
    std::string msg = "import cycle: '" + chain.back().path + "' imports ";
    if (k + 1 == chain.size()) {
      diags.error(imp.pathLoc, msg + "itself");
      return;
    }
    msg = "import cycle: '" + chain[k].path + "' imports '" +
          chain[k + 1].path + "'";
    for (size_t i = k + 2; i < chain.size(); ++i)
      msg += ", which imports '" + chain[i].path + "'";
    diags.error(imp.pathLoc, msg + ", which imports '" + path + "'");
    diags.note(chain[k + 1].importedAt, "'" + chain[k].path + "' imports '" +
                                            chain[k + 1].path + "' here");
  }
};

} // namespace

void loadImports(SourceFile &file, DiagEngine &diags, ast::Module &main) {
  if (!main.imports.empty())
    Loader(file, diags).run(main);
}

} // namespace bp
