# namedarr's modules and the boundaries between them.
#
# Each module is an object library built from src/<module>/*.c (a new file
# needs no CMake edit; a module without sources is skipped). A module sees
#   - its own directory (quoted includes next to the source),
#   - the private headers of the modules it depends on, as "<dep>/x.h",
#   - the public headers of its own level and the levels below.
# Everything else is absent from its include path, so a forbidden include
# (the core using a layer header, layers using attention) fails to build.
#
# Each module gets one generated include directory, build/modinc/<module>,
# holding symbolic links: <dep> -> src/<dep> for every visible module and
# namedarr/<h> -> include/namedarr/<h> for every visible public header.

# Dependency order: each module may use the ones listed before it.
set(NAMEDARR_MODULES core layers attention models io)
set(NAMEDARR_DEPS_core)
set(NAMEDARR_DEPS_layers core)
set(NAMEDARR_DEPS_attention core layers)
set(NAMEDARR_DEPS_models core layers attention)
set(NAMEDARR_DEPS_io core layers attention models)
# dist (src/dist) is not part of libnamedarr: it becomes its own library,
# namedarr_mpi, built only when CMake finds MPI (CMakeLists.txt).
set(NAMEDARR_DEPS_dist core layers attention models io)

# Public headers by level. models and io see every public header, so new
# headers for them need no edit here; a new core, layers or attention
# header must be listed (its module fails to find it until it is).
set(NAMEDARR_PUBLIC_core status.h array.h contract.h runtime.h)
set(NAMEDARR_PUBLIC_layers layer.h fields.h layers.h combinators.h init.h tree.h print.h)
set(NAMEDARR_PUBLIC_attention attention.h masks.h attention_fn.h)

function(namedarr_module_include_dir module out_var)
  set(dir ${PROJECT_BINARY_DIR}/modinc/${module})
  file(REMOVE_RECURSE ${dir})
  file(MAKE_DIRECTORY ${dir}/namedarr)
  set(levels ${NAMEDARR_DEPS_${module}} ${module})
  foreach(dep ${levels})
    if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${dep})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${dep} ${dir}/${dep} SYMBOLIC)
    endif()
  endforeach()
  if(module STREQUAL "models" OR module STREQUAL "io" OR module STREQUAL "dist")
    file(GLOB headers RELATIVE ${PROJECT_SOURCE_DIR}/include/namedarr
         CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/namedarr/*.h)
  else()
    set(headers)
    foreach(level ${levels})
      list(APPEND headers ${NAMEDARR_PUBLIC_${level}})
    endforeach()
  endif()
  foreach(h ${headers})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/namedarr/${h} ${dir}/namedarr/${h} SYMBOLIC)
  endforeach()
  set(${out_var} ${dir} PARENT_SCOPE)
endfunction()

# Adds the object library namedarr_<module> (if src/<module> has sources)
# and appends its objects to NAMEDARR_OBJECTS in the caller's scope.
function(namedarr_add_module module)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${module}/*.c)
  if(NOT sources)
    return()
  endif()
  namedarr_module_include_dir(${module} incdir)
  set(target namedarr_${module})
  add_library(${target} OBJECT ${sources})
  target_include_directories(${target} PRIVATE ${incdir})
  target_compile_options(${target} PRIVATE ${NAMEDARR_WARNINGS} ${OpenMP_C_FLAGS})
  # Only what the public headers declare (inside their visibility pragma)
  # leaves the shared library.
  set_target_properties(${target} PROPERTIES C_VISIBILITY_PRESET hidden)
  target_link_libraries(${target} PRIVATE ${NAMEDARR_MODULE_LIBS_${module}})
  if(NAMEDARR_MODULE_INCLUDES_${module})
    target_include_directories(${target} SYSTEM PRIVATE ${NAMEDARR_MODULE_INCLUDES_${module}})
  endif()
  set(NAMEDARR_OBJECTS ${NAMEDARR_OBJECTS} $<TARGET_OBJECTS:${target}> PARENT_SCOPE)
endfunction()
