# drover_test(NAME LABEL label SOURCES a.c ... LIBS x ... [TIMEOUT s])
# One executable per test, registered with ctest under one of the four labels.
function(drover_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  if(NOT T_LABEL MATCHES "^(unit|sim|proc|lab)$")
    message(FATAL_ERROR "drover_test(${name}): LABEL must be unit, sim, proc or lab")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
                       SKIP_RETURN_CODE 77)
endfunction()

# drover_script_test(NAME LABEL label SCRIPT path [TIMEOUT s]): a shell-driven test
# (proc, lab) that gets the build dir as $1; exit 77 means "skipped, reason printed".
function(drover_script_test name)
  cmake_parse_arguments(T "" "LABEL;SCRIPT;TIMEOUT" "" ${ARGN})
  add_test(NAME ${name} COMMAND bash ${T_SCRIPT} ${CMAKE_BINARY_DIR})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
                       SKIP_RETURN_CODE 77)
endfunction()

# drover_add_subdirs(): add every direct child folder that has a CMakeLists.txt, so a
# module's tests or benchmarks join the build by existing (no shared list to edit).
function(drover_add_subdirs)
  file(GLOB children CONFIGURE_DEPENDS RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(c ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${c} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${c}/CMakeLists.txt)
      add_subdirectory(${c})
    endif()
  endforeach()
endfunction()

# drover_fuzz(NAME SOURCES a.c ... LIBS x ... [INCLUDES dir ...]): a libFuzzer target for
# a decoder of untrusted bytes. Built only with -DDROVER_FUZZ=ON and clang (the whole tree
# is then instrumented, see the top CMakeLists.txt); tests/run.sh builds every target
# named fuzz_* and runs a short smoke of each.
function(drover_fuzz name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
  if(NOT (DROVER_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang"))
    return()
  endif()
  add_executable(${name} ${F_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_include_directories(${name} PRIVATE ${F_INCLUDES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
endfunction()
