# namedarr generate with --mesh under mpirun -np 2 prints the same greedy
# tokens as one process; a missing model directory fails on every process.
#   cmake -DCLI=... -DMPIEXEC=mpirun -DSPEC=model=2 -DFLAGS=... -DMODEL=models/adder -P cli_mesh.cmake
set(args generate ${MODEL} --tokens 1,5,6,7,12,4,3,2,13 --max-new-tokens 6 --ignore-eos)
execute_process(COMMAND ${CLI} ${args} OUTPUT_VARIABLE one ERROR_VARIABLE err1 RESULT_VARIABLE rc1)
if(rc1)
  message(FATAL_ERROR "single process failed (${rc1}): ${err1}")
endif()
set(flags ${FLAGS})   # a CMake list
execute_process(COMMAND ${MPIEXEC} -np 2 ${flags} ${CLI} ${args} --mesh ${SPEC}
                OUTPUT_VARIABLE two ERROR_VARIABLE err2 RESULT_VARIABLE rc2)
if(rc2)
  message(FATAL_ERROR "mpirun -np 2 --mesh ${SPEC} failed (${rc2}): ${err2}")
endif()
message(STATUS "one process: ${one}two processes: ${two}")
if(NOT one MATCHES "^[0-9,]+\n$" OR NOT one STREQUAL two)
  message(FATAL_ERROR "--mesh ${SPEC} printed '${two}', one process '${one}'")
endif()
# A batch of three prompts (';' between them): one line per prompt, in
# order, each equal to that prompt generated alone by one process (with
# data=2 the prompts are split over the processes: 2 + 1).
set(prompts "1,5,6,7,12,4,3,2,13" "1,9,9,12,1,13" "1,3,12,4,4,13")
set(want "")
foreach(p ${prompts})
  execute_process(COMMAND ${CLI} generate ${MODEL} --tokens ${p} --max-new-tokens 5 --ignore-eos
                  OUTPUT_VARIABLE alone RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "single prompt ${p} failed (${rc})")
  endif()
  string(APPEND want "${alone}")
endforeach()
set(batch "${prompts}")   # "a;b;c": one quoted argument
execute_process(COMMAND ${MPIEXEC} -np 2 ${flags} ${CLI} generate ${MODEL} --tokens "${batch}"
                        --max-new-tokens 5 --ignore-eos --mesh ${SPEC}
                OUTPUT_VARIABLE got ERROR_VARIABLE err3 RESULT_VARIABLE rc3)
message(STATUS "batch alone:\n${want}batch --mesh ${SPEC}:\n${got}")
if(rc3 OR NOT got STREQUAL want)
  message(FATAL_ERROR "batch --mesh ${SPEC} (${rc3}) printed '${got}', one by one '${want}': ${err3}")
endif()
execute_process(COMMAND ${MPIEXEC} -np 2 ${flags} ${CLI} generate ${MODEL}/missing
                        --tokens 1,2 --mesh ${SPEC}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 120)
if(NOT rc OR NOT err MATCHES "namedarr generate:")
  message(FATAL_ERROR "a missing model: rc ${rc}, stderr '${err}'")
endif()
