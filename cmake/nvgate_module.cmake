# nvgate_module(NAME name [SOURCES file...] [DEPS target...] [PRIVATE_DEPS target...]
#               [DEFINITIONS definition...] [TESTS program...])
#
# One module under src/: the library nvgate_NAME (header-only, an INTERFACE
# library, when it has no SOURCES), its alias nvgate::NAME, and a GoogleTest
# program for each name in TESTS, built from NAME.cc or, where there is none,
# from that name without the module's name and "_" in front (abi_table_test
# from table_test.cc); each links the module, gtest_main and gmock.
#
# A module whose files read the defences (defences/defences.h), or that links
# a module that does, is also compiled a second time, into the OBJECT library
# nvgate_NAME_weakened, with NVGATE_TEST_WEAKENINGS defined and linking the
# weakened variants of those modules. The escape suite links the weakened
# variants into nvgate_weakened (nvgate_weakened_modules gives them): every
# object of such a module there comes from its weakened variant, and the
# modules below them are linked as they are, as they cannot reach a defence.
function(nvgate_module)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS;DEFINITIONS;TESTS")
  set(library nvgate_${arg_NAME})
  if(arg_SOURCES)
    add_library(${library} STATIC ${arg_SOURCES})
    set(scope PUBLIC)
  else()
    add_library(${library} INTERFACE)
    set(scope INTERFACE)
  endif()
  add_library(nvgate::${arg_NAME} ALIAS ${library})
  if(arg_DEPS)
    target_link_libraries(${library} ${scope} ${arg_DEPS})
  endif()
  if(arg_PRIVATE_DEPS)
    target_link_libraries(${library} PRIVATE ${arg_PRIVATE_DEPS})
  endif()
  if(arg_DEFINITIONS)
    target_compile_definitions(${library} ${scope} ${arg_DEFINITIONS})
  endif()

  foreach(program IN LISTS arg_TESTS)
    set(source ${program}.cc)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${source})
      string(REGEX REPLACE "^${arg_NAME}_" "" source ${source})
    endif()
    add_executable(${program} ${source})
    target_link_libraries(${program} PRIVATE ${library} GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${program})
  endforeach()

  # Weakened when it reads the defences or links a weakened module.
  set(weakened FALSE)
  file(GLOB headers ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  foreach(file IN LISTS arg_SOURCES headers)
    cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    file(STRINGS ${file} reads REGEX "#include \"defences/defences\\.h\"")
    if(reads)
      set(weakened TRUE)
    endif()
  endforeach()
  set(weakened_deps)
  set(weakened_private_deps)
  foreach(kind deps private_deps)
    string(TOUPPER ${kind} keyword)
    foreach(dep IN LISTS arg_${keyword})
      set(variant ${dep})
      if(TARGET ${dep})
        get_target_property(dep_variant ${dep} NVGATE_WEAKENED_VARIANT)
        if(dep_variant)
          set(weakened TRUE)
          set(variant ${dep_variant})
        endif()
      endif()
      list(APPEND weakened_${kind} ${variant})
    endforeach()
  endforeach()
  if(NOT weakened)
    return()
  endif()

  if(NOT arg_SOURCES)
    # Nothing to compile: its users are weakened and compile its headers.
    set_target_properties(${library} PROPERTIES NVGATE_WEAKENED_VARIANT ${library})
    return()
  endif()
  set(variant ${library}_weakened)
  add_library(${variant} OBJECT ${arg_SOURCES})
  target_compile_definitions(${variant} PUBLIC NVGATE_TEST_WEAKENINGS ${arg_DEFINITIONS})
  target_link_libraries(${variant} PUBLIC ${weakened_deps})
  if(weakened_private_deps)
    target_link_libraries(${variant} PRIVATE ${weakened_private_deps})
  endif()
  set_target_properties(${library} PROPERTIES NVGATE_WEAKENED_VARIANT ${variant})
  set_property(GLOBAL APPEND PROPERTY NVGATE_WEAKENED_MODULES ${arg_NAME})
endfunction()

# The modules compiled a second time, with NVGATE_TEST_WEAKENINGS, in the
# order they were added: nvgate_weakened links all of them itself, since an
# OBJECT library's objects go only into the targets that link it directly.
function(nvgate_weakened_modules out)
  get_property(modules GLOBAL PROPERTY NVGATE_WEAKENED_MODULES)
  set(${out} ${modules} PARENT_SCOPE)
endfunction()
