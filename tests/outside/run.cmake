# Install namedarr into a scratch prefix, then configure, build and run a
# tiny outside project against it with find_package(namedarr), with the
# compiler that built the library (a clang-14 build uses clang's OpenMP
# runtime, which a gcc link of the static library would not find).
if(NOT C_COMPILER)
  set(C_COMPILER cc)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
# The installed namedarr command finds the installed library.
if(EXISTS ${BINARY_DIR}/namedarr)
  execute_process(COMMAND ${WORK_DIR}/prefix/bin/namedarr --help RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc OR NOT out MATCHES "generate")
    message(FATAL_ERROR "the installed namedarr command failed (${rc}): ${out}${err}")
  endif()
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/outside -B ${WORK_DIR}/build
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                        -DCMAKE_C_COMPILER=${C_COMPILER}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the outside project failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the outside project failed: ${rc}")
endif()
foreach(prog outside_shared outside_static)
  execute_process(COMMAND ${WORK_DIR}/build/${prog} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${prog}: ${out}${err}")
  if(rc)
    message(FATAL_ERROR "${prog} failed: ${rc}")
  endif()
  if(NOT out MATCHES "f32\\[foo:2, bar:3\\]" OR NOT out MATCHES "Attention")
    message(FATAL_ERROR "${prog} printed the wrong thing")
  endif()
endforeach()
# pkg-config, too.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/lib/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs namedarr OUTPUT_VARIABLE flags
                  RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc)
    message(FATAL_ERROR "pkg-config namedarr failed")
  endif()
  separate_arguments(flags)
  execute_process(COMMAND ${C_COMPILER} ${SOURCE_DIR}/tests/outside/main.c ${flags}
                          -Wl,-rpath,${WORK_DIR}/prefix/lib -o ${WORK_DIR}/outside_pc
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "building with pkg-config flags failed")
  endif()
  execute_process(COMMAND ${WORK_DIR}/outside_pc RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "outside_pc failed")
  endif()
endif()
