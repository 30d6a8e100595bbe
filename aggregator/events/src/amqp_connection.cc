#include "amqp_connection.h"

#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <utility>

#include "prescale/base/yaml_config.h"

namespace prescale::aggregator::amqp_internal {
namespace {

timeval TimevalOf(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::string ReplyText(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return "connection closed by the broker: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return "channel closed by the broker: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      return "the broker answered method " + std::to_string(reply.reply.id);
  }
  return "unknown reply";
}

AmqpConnection::AmqpConnection(const AmqpOptions& options, int heartbeat_seconds, std::string what)
    : url_(options.url),
      password_file_(options.password_file),
      timeout_(options.timeout),
      heartbeat_seconds_(heartbeat_seconds),
      what_(std::move(what)),
      broker_(RedactAmqpUrl(url_)) {}

AmqpConnection::~AmqpConnection() { Close(); }

Status AmqpConnection::Open() {
  Close();
  std::string buffer = url_;  // amqp_parse_url writes into it; info points into it
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    return Status::InvalidArgument(what_ + ": the broker URL does not parse");
  }
  std::string password = info.password;
  if (!password_file_.empty()) {
    // Read at every connect: a rotated Secret is used from the next one on.
    auto read = ReadTokenFile(password_file_);
    if (!read.ok()) return Status::Unavailable(what_ + ": " + read.status().message());
    password = std::move(read).value();
  }
  state_ = amqp_new_connection();
  if (state_ == nullptr) return Status::Unavailable(what_ + ": out of memory");
  amqp_socket_t* socket = amqp_tcp_socket_new(state_);
  if (socket == nullptr) return Fail("connecting", "cannot make a socket");
  timeval tv = TimevalOf(timeout_);
  if (int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv); rc != AMQP_STATUS_OK) {
    return Fail("connecting", amqp_error_string2(rc));
  }
  // Every broker call (login, declarations, ...) waits at most timeout_.
  tv = TimevalOf(timeout_);
  (void)amqp_set_handshake_timeout(state_, &tv);
  (void)amqp_set_rpc_timeout(state_, &tv);
  const char* vhost = info.vhost == nullptr || info.vhost[0] == '\0' ? "/" : info.vhost;
  const amqp_rpc_reply_t login = amqp_login(state_, vhost, 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_seconds_,
                                            AMQP_SASL_METHOD_PLAIN, info.user, password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) return Fail("logging in", ReplyText(login));
  amqp_channel_open(state_, kChannel);
  PRESCALE_RETURN_IF_ERROR(CheckReply("opening a channel"));
  channel_open_ = true;
  return Status::Ok();
}

void AmqpConnection::Close() {
  if (state_ == nullptr) return;
  // Polite closes are bounded by the RPC timeout; errors are of no interest.
  if (channel_open_) (void)amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
  (void)amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  (void)amqp_destroy_connection(state_);
  state_ = nullptr;
  channel_open_ = false;
}

Status AmqpConnection::CheckReply(std::string_view doing) {
  if (state_ == nullptr) return Status::Unavailable(what_ + ": not connected to " + broker_);
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return Status::Ok();
  // The broker closed the channel or the connection: neither is usable.
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) channel_open_ = false;
  return Fail(doing, ReplyText(reply));
}

Status AmqpConnection::CheckStatus(int status, std::string_view doing) {
  if (status == AMQP_STATUS_OK) return Status::Ok();
  return Fail(doing, amqp_error_string2(status));
}

Status AmqpConnection::Fail(std::string_view doing, const std::string& why) {
  Status s = Status::Unavailable(what_ + ": " + std::string(doing) + " on " + broker_ + ": " + why);
  Close();
  return s;
}

}  // namespace prescale::aggregator::amqp_internal
