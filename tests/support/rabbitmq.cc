#include "tests/support/rabbitmq.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace prescale::testing {

using namespace std::chrono_literals;

namespace {

// Whether something accepts TCP connections on 127.0.0.1:port.
bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string RabbitMqServerProgram() {
  const char* env = std::getenv("PRESCALE_RABBITMQ_SERVER");
  const std::string path = env != nullptr && *env != '\0' ? env : "/usr/lib/rabbitmq/bin/rabbitmq-server";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

RabbitMqServer::RabbitMqServer() = default;

RabbitMqServer::~RabbitMqServer() {
  Stop();
  if (epmd_ != nullptr) {
    epmd_->Signal(SIGTERM);
    epmd_->Wait(10s);
  }
}

bool RabbitMqServer::Start(std::string* error) {
  if (running()) return true;
  if (program_.empty()) {
    program_ = RabbitMqServerProgram();
    if (program_.empty()) {
      *error = "RabbitMQ is not installed (Debian package rabbitmq-server; or set PRESCALE_RABBITMQ_SERVER)";
      return false;
    }
    port_ = FreeLoopbackPort();
    dist_port_ = FreeLoopbackPort();
    epmd_port_ = FreeLoopbackPort();
    node_ = "prescale-test-" + std::to_string(::getpid()) + "@localhost";
    dir_.Write("home/.keep", "");
    dir_.Write("enabled_plugins", "[].\n");  // no management plugin, nor any other
    dir_.Write("rabbitmq.conf", "listeners.tcp.1 = 127.0.0.1:" + std::to_string(port_) +
                                    "\nloopback_users.guest = true\nlog.console = false\nlog.file.level = info\n");
  }
  if (epmd_ == nullptr || !epmd_->running()) {
    // An epmd of its own, on loopback: none on the machine's port 4369 is
    // needed, and none outlives the test.
    epmd_ = std::make_unique<Subprocess>();
    if (!epmd_->Start({"epmd", "-port", std::to_string(epmd_port_), "-address", "127.0.0.1"})) {
      *error = "cannot run epmd (Debian package erlang-base)";
      return false;
    }
    if (!PollUntil([&] { return Accepts(epmd_port_); }, 10s)) {
      *error = "epmd did not listen on port " + std::to_string(epmd_port_) + ": " + epmd_->Stderr();
      return false;
    }
  }
  const std::string d = dir_.path();
  server_ = std::make_unique<Subprocess>();
  // The package's script itself (not /usr/sbin's wrapper, which switches to
  // the rabbitmq user and /var/lib/rabbitmq): everything in the temporary
  // directory, the cookie in its HOME.
  if (!server_->Start({"env", "-C", d, "HOME=" + d + "/home", "RABBITMQ_CONF_ENV_FILE=/dev/null",
                       "RABBITMQ_NODENAME=" + node_, "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
                       "RABBITMQ_NODE_PORT=" + std::to_string(port_),
                       "RABBITMQ_DIST_PORT=" + std::to_string(dist_port_), "RABBITMQ_MNESIA_BASE=" + d + "/mnesia",
                       "RABBITMQ_LOG_BASE=" + d + "/log", "RABBITMQ_CONFIG_FILE=" + d + "/rabbitmq.conf",
                       "RABBITMQ_ENABLED_PLUGINS_FILE=" + d + "/enabled_plugins",
                       "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
                       "ERL_EPMD_PORT=" + std::to_string(epmd_port_), "ERL_EPMD_ADDRESS=127.0.0.1", program_})) {
    *error = "cannot run " + program_;
    return false;
  }
  if (PollUntil([&] { return !server_->running() || Accepts(port_); }, 90s, 100ms) && server_->running()) return true;
  *error = "rabbitmq-server on port " + std::to_string(port_) + " did not start within 90 s: " + server_->Stderr() +
           "\n" + Log();
  return false;
}

void RabbitMqServer::Stop() {
  if (server_ == nullptr || !server_->running()) return;
  // The script passes SIGTERM on to the node, which shuts down cleanly.
  server_->Signal(SIGTERM);
  if (!server_->Wait(60s).has_value()) ::kill(-server_->pid(), SIGKILL);
}

bool RabbitMqServer::running() { return server_ != nullptr && server_->running(); }

std::string RabbitMqServer::Url() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/"; }

std::string RabbitMqServer::Log() const {
  const std::string log = ReadAll(dir_.path() + "/log/" + node_ + ".log");
  return log.size() <= 4000 ? log : log.substr(log.size() - 4000);
}

RabbitMqServer* SharedRabbitMq(std::string* error) {
  // Destroyed at exit, which stops the node.
  static std::unique_ptr<RabbitMqServer> server;
  static std::string failure;
  if (server == nullptr && failure.empty()) {
    auto started = std::make_unique<RabbitMqServer>();
    if (started->Start(&failure)) server = std::move(started);
  }
  if (server == nullptr) *error = failure;
  return server.get();
}

}  // namespace prescale::testing
