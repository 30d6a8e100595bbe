# The web console (console/, docs/console.md): built with Node.js and npm from
# its lock file (npm ci, then vite build) and embedded into prescale-aggregator
# as the library prescale_console_assets (a generated .cc holding every file of
# the build), so the binary serves /ui/ with no files beside it.
#
# Node.js and npm are required: without them the configure step stops here,
# rather than ship an aggregator without its console. scripts/setup installs
# Debian's nodejs and npm. npm ci needs the npm registry (or a populated npm
# cache) the first time and again whenever console/package-lock.json changes.

find_program(PRESCALE_NODE NAMES node nodejs)
find_program(PRESCALE_NPM npm)
if(NOT PRESCALE_NODE OR NOT PRESCALE_NPM)
  message(FATAL_ERROR
    "prescale-aggregator embeds the web console (console/), which is built with Node.js and npm, "
    "and they were not found (node: ${PRESCALE_NODE}, npm: ${PRESCALE_NPM}). "
    "Run scripts/setup (it installs Debian's nodejs and npm), or put node and npm on PATH.")
endif()

set(PRESCALE_CONSOLE_SRC ${CMAKE_SOURCE_DIR}/console)
set(PRESCALE_CONSOLE_DIST ${CMAKE_BINARY_DIR}/console/dist)
set(PRESCALE_CONSOLE_CC ${CMAKE_BINARY_DIR}/console/console_assets_data.cc)
set(PRESCALE_CONSOLE_NPM_STAMP ${CMAKE_BINARY_DIR}/console/npm-ci.stamp)

# node_modules from the lock file, again only when it changes.
add_custom_command(
  OUTPUT ${PRESCALE_CONSOLE_NPM_STAMP}
  COMMAND ${CMAKE_COMMAND} -E env PUPPETEER_SKIP_DOWNLOAD=1 npm_config_update_notifier=false
          ${PRESCALE_NPM} ci --no-audit --no-fund --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${PRESCALE_CONSOLE_NPM_STAMP}
  DEPENDS ${PRESCALE_CONSOLE_SRC}/package.json ${PRESCALE_CONSOLE_SRC}/package-lock.json
  WORKING_DIRECTORY ${PRESCALE_CONSOLE_SRC}
  COMMENT "console: npm ci (console/package-lock.json)"
  VERBATIM)

file(GLOB_RECURSE PRESCALE_CONSOLE_SOURCES CONFIGURE_DEPENDS
  ${PRESCALE_CONSOLE_SRC}/src/*
  ${PRESCALE_CONSOLE_SRC}/public/*)
add_custom_command(
  OUTPUT ${PRESCALE_CONSOLE_CC}
  COMMAND ${PRESCALE_NODE} node_modules/vite/bin/vite.js build --logLevel warn
          --outDir ${PRESCALE_CONSOLE_DIST} --emptyOutDir
  COMMAND ${PRESCALE_NODE} scripts/size.mjs ${PRESCALE_CONSOLE_DIST}
  COMMAND ${CMAKE_COMMAND} -DDIST=${PRESCALE_CONSOLE_DIST} -DOUT=${PRESCALE_CONSOLE_CC}
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_console.cmake
  DEPENDS ${PRESCALE_CONSOLE_NPM_STAMP} ${PRESCALE_CONSOLE_SOURCES}
          ${PRESCALE_CONSOLE_SRC}/index.html ${PRESCALE_CONSOLE_SRC}/vite.config.js
          ${PRESCALE_CONSOLE_SRC}/scripts/size.mjs ${CMAKE_SOURCE_DIR}/cmake/embed_console.cmake
  WORKING_DIRECTORY ${PRESCALE_CONSOLE_SRC}
  COMMENT "console: vite build, embedding console/ into prescale-aggregator"
  VERBATIM)

add_library(prescale_console_assets STATIC ${PRESCALE_CONSOLE_CC})
target_link_libraries(prescale_console_assets PUBLIC aggregator_api)
