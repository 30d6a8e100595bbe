// A real RabbitMQ (Debian's rabbitmq-server package) for tests: one node
// with its data, logs, config and Erlang cookie in a temporary directory,
// listening for AMQP on a free 127.0.0.1 port, its Erlang distribution on
// another and its own epmd on a third (loopback only), no plugins. Ready
// (its AMQP port accepts connections) when Start returns; RabbitMQ opens the
// port last, once it boots. The default user guest/guest may connect from
// loopback. Stop shuts it down gracefully (SIGTERM), and Start brings it back
// on the same ports and data: durable exchanges, queues and persistent
// messages survive. Stopped on destruction. Runs as root as well as any
// user. Not thread-safe: one test thread drives it.
#pragma once

#include <memory>
#include <string>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// /usr/lib/rabbitmq/bin/rabbitmq-server (the package's script, without the
// su wrapper of /usr/sbin) or $PRESCALE_RABBITMQ_SERVER; "" when missing.
std::string RabbitMqServerProgram();

class RabbitMqServer {
 public:
  RabbitMqServer();
  ~RabbitMqServer();
  RabbitMqServer(const RabbitMqServer&) = delete;
  RabbitMqServer& operator=(const RabbitMqServer&) = delete;

  // Starts the node (the first time: picks the ports and writes the
  // config) and waits until its AMQP port accepts connections, at most 90 s.
  // False with *error saying why (its log's tail).
  bool Start(std::string* error);
  // A graceful shutdown (SIGTERM; SIGKILL past 60 s); returns once it exited.
  void Stop();
  bool running();

  int port() const { return port_; }
  // amqp://guest:guest@127.0.0.1:PORT/
  std::string Url() const;
  // The node's log so far (for failures).
  std::string Log() const;

 private:
  TempDir dir_{"prescale-rabbitmq"};
  std::string program_;
  std::string node_;
  int port_ = 0, dist_port_ = 0, epmd_port_ = 0;
  std::unique_ptr<Subprocess> epmd_;
  std::unique_ptr<Subprocess> server_;
};

// One node for every test of the process, started on first use; null with
// *error when it cannot start. Tests share it: each uses queues of its own.
RabbitMqServer* SharedRabbitMq(std::string* error);

}  // namespace prescale::testing
