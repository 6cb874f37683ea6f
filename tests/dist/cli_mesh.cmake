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
execute_process(COMMAND ${MPIEXEC} -np 2 ${flags} ${CLI} generate ${MODEL}/missing
                        --tokens 1,2 --mesh ${SPEC}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 120)
if(NOT rc OR NOT err MATCHES "namedarr generate:")
  message(FATAL_ERROR "a missing model: rc ${rc}, stderr '${err}'")
endif()
