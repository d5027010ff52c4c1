# BPConfig.cmake: the CMake package `cmake --install` writes for BP
# (docs/INSTALL.md).
#
#   find_package(BP CONFIG REQUIRED)
#   bp_add_model(model model.bp [SHARED|STATIC] [PREFIX p] [PARAMS file]
#                [DEPENDS imported.bp ...])
#   target_link_libraries(app PRIVATE model)
#
# bp_add_model runs `bpc build` at build time (again whenever the .bp file,
# a DEPENDS file, the PARAMS file or bpc changes) and makes TARGET an
# imported library that carries the header's directory and the libraries
# the model needs. Gives BP::bpc (the compiler), BP_VERSION and
# BP_INCLUDE_DIR (the runtime's header, bp/bp_runtime.h).

# This file lives in <prefix>/lib/cmake/BP.
get_filename_component(_bp_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(BP_INCLUDE_DIR "${_bp_prefix}/include")
if(NOT TARGET BP::bpc)
  add_executable(BP::bpc IMPORTED)
  set_target_properties(BP::bpc PROPERTIES
    IMPORTED_LOCATION "${_bp_prefix}/bin/bpc")
endif()

function(bp_add_model target file)
  cmake_parse_arguments(PARSE_ARGV 2 arg "SHARED;STATIC" "PREFIX;PARAMS"
                        "DEPENDS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR
      "bp_add_model(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(arg_SHARED AND arg_STATIC)
    message(FATAL_ERROR "bp_add_model(${target}): SHARED or STATIC, not both")
  endif()
  set(prefix ${target})
  if(arg_PREFIX)
    set(prefix ${arg_PREFIX})
  endif()
  if(arg_SHARED)
    set(kind SHARED)
    set(ext so)
  else()
    set(kind STATIC)
    set(ext a)
  endif()
  get_filename_component(file "${file}" ABSOLUTE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/bp/${target}")
  # An imported target's include directory must exist at generate time.
  file(MAKE_DIRECTORY "${dir}")
  set(lib "${dir}/lib${target}.${ext}")
  set(cmd BP::bpc build "${file}" -o "${lib}" --prefix "${prefix}")
  set(deps "${file}" BP::bpc ${arg_DEPENDS})
  if(arg_PARAMS)
    get_filename_component(params "${arg_PARAMS}" ABSOLUTE)
    list(APPEND cmd --load "${params}")
    list(APPEND deps "${params}")
  endif()
  add_custom_command(OUTPUT "${lib}" "${dir}/${prefix}.h"
    COMMAND ${cmd}
    DEPENDS ${deps}
    COMMENT "bpc build ${file} -> lib${target}.${ext}"
    VERBATIM)
  add_custom_target(${target}_bpc DEPENDS "${lib}" "${dir}/${prefix}.h")
  add_library(${target} ${kind} IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${dir}")
  if(kind STREQUAL SHARED)
    # Linked as -l<target> from its directory (which CMake puts on the
    # program's build RPATH), so the program does not record a path.
    set_property(TARGET ${target} PROPERTY IMPORTED_NO_SONAME TRUE)
  endif()
  if(kind STREQUAL STATIC)
    # What a model archive needs (the runtime is inside it): OpenBLAS for
    # its matrix products, the C++ runtime library and libm.
    set_property(TARGET ${target} PROPERTY
      INTERFACE_LINK_LIBRARIES openblas stdc++ m)
  endif()
  # Dependencies of an imported target are followed by its users: a program
  # that links TARGET builds after the model.
  add_dependencies(${target} ${target}_bpc)
endfunction()
