# ckpt_optional_target(<name> <found> <missing>): an optional INTERFACE target
# ckpt::<name> (ckpt_<name>, linking ckpt::ckpt), governed by the cache
# option CKPT_<NAME> (ON, OFF or AUTO). <found> says whether its dependencies
# were found; <missing> is what to install when they were not. Sets
# CKPT_<NAME>_ENABLED in the caller's scope.
function(ckpt_optional_target name found missing)
  string(TOUPPER "${name}" upper)
  set(enabled OFF)
  if(found AND NOT CKPT_${upper} STREQUAL "OFF")
    set(enabled ON)
    add_library(ckpt_${name} INTERFACE)
    add_library(ckpt::${name} ALIAS ckpt_${name})
    set_target_properties(ckpt_${name} PROPERTIES EXPORT_NAME ${name})
    target_link_libraries(ckpt_${name} INTERFACE ckpt::ckpt)
  elseif(CKPT_${upper} STREQUAL "ON")
    message(FATAL_ERROR "CKPT_${upper}=ON but its dependencies were not found (${missing})")
  elseif(NOT CKPT_${upper} STREQUAL "OFF")
    message(STATUS "ckpt: dependencies of ckpt::${name} not found; building without it (${missing})")
  endif()
  set(CKPT_${upper}_ENABLED ${enabled} PARENT_SCOPE)
endfunction()
