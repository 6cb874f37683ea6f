# The shared library exports the na_ API and nothing else: no na__
# internals, no BLIS, no helper without the prefix.
#   cmake -DLIB=libnamedarr.so -DNM=nm -P exports.cmake
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "${NM} -D failed on ${LIB}: ${rc}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(count 0)
set(bad)
foreach(line ${lines})
  if(line MATCHES "^[0-9a-fA-F]* +[A-Za-z] +([^ ]+)$")
    set(sym ${CMAKE_MATCH_1})
    math(EXPR count "${count} + 1")
    if(NOT sym MATCHES "^na_" OR sym MATCHES "^na__")
      list(APPEND bad ${sym})
    endif()
  endif()
endforeach()
if(count LESS 50)
  message(FATAL_ERROR "only ${count} symbols exported by ${LIB}: is the na_ API hidden?")
endif()
if(bad)
  list(LENGTH bad n)
  string(REPLACE ";" "\n  " bad "${bad}")
  message(FATAL_ERROR "${LIB} exports ${n} symbols outside the na_ API:\n  ${bad}")
endif()
message(STATUS "${LIB}: ${count} symbols, all na_")

# Every public header exports what it declares (a header without the
# pragma would leave its functions hidden and unlinkable).
if(INCLUDE_DIR)
  file(GLOB headers ${INCLUDE_DIR}/namedarr/*.h)
  foreach(h ${headers})
    file(READ ${h} text)
    get_filename_component(name ${h} NAME)
    if(NOT name STREQUAL "namedarr.h" AND NOT text MATCHES "#pragma GCC visibility push\\(default\\)")
      message(FATAL_ERROR "${name} lacks #pragma GCC visibility push(default) / pop "
                          "around its declarations")
    endif()
  endforeach()
endif()
