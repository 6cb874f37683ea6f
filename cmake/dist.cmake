# namedarr_mpi: named axes sharded across processes (src/dist).
# A separate library so that users of libnamedarr never link MPI. It uses
# only the public na_ API of libnamedarr. Built when MPI is found (Debian:
# libopenmpi-dev openmpi-bin; CI installs them, so CI always builds it).
find_package(MPI COMPONENTS C)
set(NAMEDARR_HAVE_MPI ${MPI_C_FOUND})
if(NAMEDARR_HAVE_MPI)
  file(GLOB dist_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/dist/*.c)
  namedarr_module_include_dir(dist dist_incdir)
  add_library(namedarr_dist OBJECT ${dist_sources})
  target_include_directories(namedarr_dist PRIVATE ${dist_incdir})
  target_compile_options(namedarr_dist PRIVATE ${NAMEDARR_WARNINGS})
  set_target_properties(namedarr_dist PROPERTIES C_VISIBILITY_PRESET hidden)
  target_link_libraries(namedarr_dist PRIVATE MPI::MPI_C PkgConfig::XXHASH)
  add_library(namedarr_mpi SHARED $<TARGET_OBJECTS:namedarr_dist>)
  target_link_libraries(namedarr_mpi PUBLIC namedarr MPI::MPI_C PRIVATE PkgConfig::XXHASH)
  set_target_properties(namedarr_mpi PROPERTIES VERSION ${PROJECT_VERSION}
                        SOVERSION ${PROJECT_VERSION_MAJOR})
  add_library(namedarr_mpi_static STATIC $<TARGET_OBJECTS:namedarr_dist>)
  target_link_libraries(namedarr_mpi_static PUBLIC namedarr_static MPI::MPI_C PkgConfig::XXHASH)
  set_target_properties(namedarr_mpi_static PROPERTIES OUTPUT_NAME namedarr_mpi)
  install(TARGETS namedarr_mpi namedarr_mpi_static
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()

if(NAMEDARR_HAVE_MPI AND NAMEDARR_BUILD_TESTS)
  # The MPI suites are plain programs run under mpirun (tests/dist/dist_check.h
  # says why not Criterion), each with 1, 2 and 4 processes (4: a 2x2 mesh,
  # oversubscribed on small machines). Open MPI refuses root unless told.
  set(NAMEDARR_MPIRUN_FLAGS --oversubscribe --bind-to none --mca btl self,vader)
  file(GLOB dist_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/dist/test_*.c)
  foreach(src ${dist_tests})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/dist
                               ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(${name} PRIVATE namedarr_mpi_static)
    target_compile_options(${name} PRIVATE ${NAMEDARR_WARNINGS})
    string(REGEX REPLACE "^test_" "" suite ${name})
    foreach(np 1 2 4)
      add_test(NAME ${suite}_np${np}
               COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np}
                       ${NAMEDARR_MPIRUN_FLAGS} ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${name}>
                       ${MPIEXEC_POSTFLAGS}
               WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
      set_tests_properties(${suite}_np${np} PROPERTIES TIMEOUT 300 LABELS mpi
        ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_mca_base_component_disable_dlclose=1;LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/dist/lsan.supp:fast_unwind_on_malloc=0")
    endforeach()
  endforeach()
endif()

# The namedarr command gets --mesh (tools/namedarr/cli_mesh.c).
if(NAMEDARR_HAVE_MPI AND TARGET namedarr_cli)
  target_link_libraries(namedarr_cli PRIVATE namedarr_mpi)
  target_compile_definitions(namedarr_cli PRIVATE NAMEDARR_CLI_MPI)
  set_property(TARGET namedarr_cli APPEND PROPERTY INSTALL_RPATH "$ORIGIN")
  if(NAMEDARR_BUILD_TESTS)
    # Greedy tokens with --mesh model=2 (and data=2) equal the single-process ones.
    foreach(spec model=2 data=2)
      add_test(NAME cli_generate_mesh_${spec}
               COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:namedarr_cli>
                       -DMPIEXEC=${MPIEXEC_EXECUTABLE} -DSPEC=${spec}
                       "-DFLAGS=${NAMEDARR_MPIRUN_FLAGS}"
                       -DMODEL=${PROJECT_SOURCE_DIR}/models/adder
                       -P ${PROJECT_SOURCE_DIR}/tests/dist/cli_mesh.cmake)
      set_tests_properties(cli_generate_mesh_${spec} PROPERTIES TIMEOUT 300 LABELS mpi
        ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_mca_base_component_disable_dlclose=1;LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/dist/lsan.supp:fast_unwind_on_malloc=0")
    endforeach()
  endif()
endif()

# bench/dist: tensor-parallel prefill and decode (run it under mpirun).
if(NAMEDARR_HAVE_MPI AND NAMEDARR_BUILD_BENCH)
  add_executable(bench_dist ${PROJECT_SOURCE_DIR}/bench/dist/bench_dist.c)
  target_link_libraries(bench_dist PRIVATE namedarr_mpi)
  target_compile_options(bench_dist PRIVATE ${NAMEDARR_WARNINGS})
endif()
