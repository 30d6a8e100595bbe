# Run at build time (cmake -P) by shared/base's prescale_build_info_source target: writes OUT
# from IN with the version (VERSION), the git revision, branch and commit date of SOURCE_DIR,
# and the compiler (COMPILER). configure_file rewrites OUT only when its text changes, so a
# build without a new commit recompiles nothing. Outside a git checkout (a source tarball, an
# image built without .git) the revision and branch read "unknown".
set(PRESCALE_REVISION "unknown")
set(PRESCALE_BRANCH "unknown")
set(PRESCALE_COMMIT_DATE "unknown")
find_program(GIT git)
if(GIT AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT}" -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    set(PRESCALE_REVISION "${out}")
    execute_process(COMMAND "${GIT}" -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT dirty STREQUAL "")
      string(APPEND PRESCALE_REVISION "-dirty")
    endif()
  endif()
  execute_process(COMMAND "${GIT}" -C "${SOURCE_DIR}" rev-parse --abbrev-ref HEAD
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    set(PRESCALE_BRANCH "${out}")
  endif()
  execute_process(COMMAND "${GIT}" -C "${SOURCE_DIR}" log -1 --format=%cI
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    set(PRESCALE_COMMIT_DATE "${out}")
  endif()
endif()
set(PRESCALE_VERSION "${VERSION}")
set(PRESCALE_COMPILER "${COMPILER}")
configure_file("${IN}" "${OUT}" @ONLY)
