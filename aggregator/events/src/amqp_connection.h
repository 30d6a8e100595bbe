// AmqpConnection: one connection to RabbitMQ through librabbitmq's C API,
// with one channel (1), opened with a deadline on the socket and on every
// broker call. Private to aggregator_events. Not thread-safe: one thread
// drives a connection.
#pragma once

#include <amqp.h>

#include <chrono>
#include <string>
#include <string_view>

#include "prescale/aggregator/events/amqp_options.h"
#include "prescale/base/status.h"

namespace prescale::aggregator::amqp_internal {

inline constexpr amqp_channel_t kChannel = 1;

// "text" as librabbitmq's bytes (not copied: `text` must outlive the call).
inline amqp_bytes_t Bytes(std::string_view text) { return amqp_bytes_t{text.size(), const_cast<char*>(text.data())}; }

class AmqpConnection {
 public:
  // `what` names the connection in errors ("event sink", "trigger source").
  // The broker, password file and timeout of `options`.
  AmqpConnection(const AmqpOptions& options, int heartbeat_seconds, std::string what);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // Connects, logs in and opens the channel; Unavailable naming the broker
  // (never the password) and why.
  Status Open();
  // Closes the channel and the connection (politely when they are still
  // up) and frees them. Open may be called again after.
  void Close();
  bool open() const { return state_ != nullptr; }
  amqp_connection_state_t state() const { return state_; }

  // OK when the last broker call succeeded; else Unavailable saying what
  // failed while `doing`, and the connection is closed (a channel or
  // connection error leaves it unusable).
  Status CheckReply(std::string_view doing);
  // The same for a librabbitmq status code (AMQP_STATUS_*).
  Status CheckStatus(int status, std::string_view doing);
  // An error for `doing` with `why`; closes the connection.
  Status Fail(std::string_view doing, const std::string& why);
  // The broker as it may be logged: amqp://USER@HOST:PORT/VHOST.
  const std::string& broker() const { return broker_; }

 private:
  std::string url_;
  std::string password_file_;
  std::chrono::milliseconds timeout_;
  int heartbeat_seconds_;
  std::string what_;
  std::string broker_;
  amqp_connection_state_t state_ = nullptr;
  bool channel_open_ = false;
};

// What a broker call's reply says, for errors: the broker's reply text on a
// channel or connection close ("NOT_FOUND - no exchange 'x' in vhost '/'"),
// else librabbitmq's error string.
std::string ReplyText(const amqp_rpc_reply_t& reply);

}  // namespace prescale::aggregator::amqp_internal
