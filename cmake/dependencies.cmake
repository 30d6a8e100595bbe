# Every third-party library comes from Debian 12's packages (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Protobuf REQUIRED)
find_package(Snappy CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
# Asio and Beast (header-only; Debian libboost-dev): the HTTP server and the agent's HTTP client.
find_package(Boost 1.74 REQUIRED)
if(PRESCALE_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(PRESCALE_BENCH AND NOT PRESCALE_FUZZ)
  find_package(benchmark CONFIG REQUIRED)
endif()
# The aggregator: OpenSSL (token hashes) and RapidJSON (JSON ingest, header-only; Debian rapidjson-dev).
find_package(OpenSSL REQUIRED)
# The control-plane store (Debian libsqlite3-dev).
find_package(SQLite3 REQUIRED)
# The control-plane store shared by replicas: PostgreSQL's client library (Debian libpq-dev).
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
# RabbitMQ's C client (librabbitmq-dev): the aggregator's event sink and trigger source.
pkg_check_modules(LIBRABBITMQ REQUIRED IMPORTED_TARGET librabbitmq)
# The forecast library: least squares (Debian libeigen3-dev, header-only).
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)
# The agent's basic auth: bcrypt through libxcrypt's crypt_r (Debian libcrypt-dev, which
# libc6-dev depends on; the runtime's libcrypt1 is in every Debian image).
find_path(CRYPT_INCLUDE_DIR crypt.h REQUIRED)
find_library(CRYPT_LIBRARY crypt REQUIRED)
