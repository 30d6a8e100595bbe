# Project-wide warning flags, applied through an interface target so third-party
# headers (included as SYSTEM) stay quiet.
add_library(prescale_warnings INTERFACE)
target_compile_options(prescale_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wnull-dereference -Wformat=2)
if(PRESCALE_WERROR)
  target_compile_options(prescale_warnings INTERFACE -Werror)
endif()
