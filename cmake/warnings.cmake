# Project-wide warning flags, applied through an interface target so third-party
# headers (included as SYSTEM) stay quiet.
add_library(prescale_warnings INTERFACE)
target_compile_options(prescale_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wnull-dereference -Wformat=2)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives on std::variant (our Result<T>) at -O2.
  target_compile_options(prescale_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
if(PRESCALE_WERROR)
  target_compile_options(prescale_warnings INTERFACE -Werror)
endif()
