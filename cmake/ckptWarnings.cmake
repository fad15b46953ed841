# Warnings and sanitizers for ckpt's own targets only (never add_compile_options:
# a consumer's flags are theirs). Use: ckpt_target_defaults(<target>).
set(CKPT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference
    -Wimplicit-fallthrough)
option(CKPT_WERROR "Treat warnings as errors in ckpt's own targets" ON)
if(CKPT_WERROR)
  list(APPEND CKPT_WARNINGS -Werror)
endif()
function(ckpt_target_defaults target)
  target_compile_options(${target} PRIVATE ${CKPT_WARNINGS})
  if(CKPT_SANITIZE)
    string(REPLACE ";" "," _san "${CKPT_SANITIZE}")
    target_compile_options(${target} PRIVATE -fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${_san})
  endif()
endfunction()

# Debian's RapidJSON (1.1.0, which ckpt-inspect uses) adds an offset to a null
# pointer when its internal stack first grows, a bug fixed upstream after that
# release; clang's UBSan (pointer-overflow) reports it. Targets that include
# RapidJSON skip that one check; every other check stays on.
function(ckpt_allow_rapidjson target)
  if(CKPT_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(${target} PRIVATE -fno-sanitize=pointer-overflow)
  endif()
endfunction()
