# Sanitizers for the whole build, and libFuzzer for the fuzz targets.
#   -DPRESCALE_SANITIZE=ON       ASan+UBSan (same as =address,undefined)
#   -DPRESCALE_SANITIZE=thread   TSan (clang or GCC)
#   -DPRESCALE_FUZZ=ON           libFuzzer targets (clang only), ASan+UBSan with coverage for
#                                every object. Combined with PRESCALE_SANITIZE=ON and
#                                PRESCALE_TESTS=ON, one build serves both the tests under
#                                ASan+UBSan and the fuzz targets (scripts/test does that):
#                                only the fuzz targets link libFuzzer (-fsanitize=fuzzer,
#                                tests/fuzz/CMakeLists.txt); the tests get the sanitizer
#                                runtime's no-op coverage callbacks.
# The flags go to every target through add_compile_options/add_link_options;
# prescale_without_sanitizers(target) takes them off one target again (the test helper
# programs, whose memory footprint the live tests measure: shadow memory would count).
string(TOLOWER "${PRESCALE_SANITIZE}" _prescale_sanitize)
if(_prescale_sanitize MATCHES "^(on|yes|true|y|1)$")
  set(_prescale_sanitize "address,undefined")
elseif(_prescale_sanitize MATCHES "^(off|no|false|n|0|)$")
  set(_prescale_sanitize "")
endif()
if(PRESCALE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PRESCALE_FUZZ needs clang: configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(_prescale_sanitize STREQUAL "")
    set(_prescale_sanitize "address,undefined")
  elseif(NOT _prescale_sanitize STREQUAL "address,undefined")
    message(FATAL_ERROR "PRESCALE_FUZZ goes with ASan+UBSan only, not PRESCALE_SANITIZE=${PRESCALE_SANITIZE}")
  endif()
endif()
if(NOT _prescale_sanitize MATCHES "^(|address|undefined|address,undefined|thread)$")
  message(FATAL_ERROR "PRESCALE_SANITIZE=${PRESCALE_SANITIZE}: expected OFF, ON (address,undefined), "
                      "address, undefined or thread")
endif()

set(PRESCALE_SANITIZER_COMPILE_OPTIONS "")
set(PRESCALE_SANITIZER_LINK_OPTIONS "")
if(_prescale_sanitize)
  set(PRESCALE_SANITIZER_COMPILE_OPTIONS -fsanitize=${_prescale_sanitize} -fno-omit-frame-pointer)
  if(_prescale_sanitize MATCHES "undefined")
    list(APPEND PRESCALE_SANITIZER_COMPILE_OPTIONS -fno-sanitize-recover=undefined)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      # Third-party code UBSan must not check (each entry says why). Spelled -fsanitize-blacklist:
      # ccache 4.7 hashes the list's contents for that spelling only (not -fsanitize-ignorelist).
      # Relative to the build tree, where Ninja runs the compiler, so that a clone at another
      # path has the same command line (and ccache hits).
      set(_ignorelist ${PROJECT_SOURCE_DIR}/tests/sanitizers/ubsan_ignorelist.txt)
      if(CMAKE_GENERATOR MATCHES "Ninja")
        file(RELATIVE_PATH _ignorelist ${CMAKE_BINARY_DIR} ${_ignorelist})
      endif()
      list(APPEND PRESCALE_SANITIZER_COMPILE_OPTIONS -fsanitize-blacklist=${_ignorelist})
    endif()
  endif()
  if(PRESCALE_FUZZ)
    # Coverage for libFuzzer in every object; fuzz targets add -fsanitize=fuzzer at link time.
    list(TRANSFORM PRESCALE_SANITIZER_COMPILE_OPTIONS REPLACE "^-fsanitize=" "-fsanitize=fuzzer-no-link,")
  endif()
  set(PRESCALE_SANITIZER_LINK_OPTIONS -fsanitize=${_prescale_sanitize})
  add_compile_options(${PRESCALE_SANITIZER_COMPILE_OPTIONS})
  add_link_options(${PRESCALE_SANITIZER_LINK_OPTIONS})
  message(STATUS "prescale: -fsanitize=${_prescale_sanitize} for every target")
endif()

# Removes the sanitizer (and fuzzer coverage) flags from one target, for programs that must
# run uninstrumented. The target must not link instrumented libraries.
function(prescale_without_sanitizers target)
  foreach(property COMPILE_OPTIONS LINK_OPTIONS)
    get_target_property(options ${target} ${property})
    if(options)
      list(REMOVE_ITEM options ${PRESCALE_SANITIZER_COMPILE_OPTIONS} ${PRESCALE_SANITIZER_LINK_OPTIONS})
      set_target_properties(${target} PROPERTIES ${property} "${options}")
    endif()
  endforeach()
endfunction()
