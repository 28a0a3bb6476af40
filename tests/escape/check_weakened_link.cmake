# Fails when nvgate_weakened's link map (-D map=...) names any of the normal
# build's archives of a weakened module (-D archives=libnvgate_proxy.a;...):
# an object from one would run with its defences intact, or mix with the
# weakened ones.
if(NOT EXISTS "${map}")
  message(FATAL_ERROR "no link map at ${map}: build nvgate_weakened first")
endif()
file(READ "${map}" text)
if(archives STREQUAL "")
  message(FATAL_ERROR "no weakened archives named: no module reads defences/defences.h (cmake/nvgate_module.cmake)")
endif()
set(found)
foreach(archive ${archives})
  string(FIND "${text}" "/${archive}(" at)
  if(NOT at EQUAL -1)
    list(APPEND found ${archive})
  endif()
endforeach()
if(found)
  message(FATAL_ERROR "nvgate_weakened links objects of the normal build's ${found}")
endif()
message(STATUS "nvgate_weakened links none of ${archives}")
