#include <amqp.h>

#include <string>

#include "prescale/aggregator/events/amqp_options.h"

namespace prescale::aggregator {

Status CheckAmqpUrl(std::string_view url) {
  if (url.starts_with("amqps://")) {
    return Status::InvalidArgument("amqps:// (TLS) is not supported yet: use amqp:// on a trusted network");
  }
  if (!url.starts_with("amqp://"))
    return Status::InvalidArgument("expected an amqp://USER:PASSWORD@HOST:PORT/VHOST URL");
  std::string buffer(url);
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    return Status::InvalidArgument("not a valid amqp://USER:PASSWORD@HOST:PORT/VHOST URL");
  }
  if (info.host == nullptr || info.host[0] == '\0') return Status::InvalidArgument("the URL names no host");
  return Status::Ok();
}

std::string RedactAmqpUrl(std::string_view url) {
  std::string buffer(url);
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) return "(an amqp URL that does not parse)";
  const std::string vhost = info.vhost == nullptr || info.vhost[0] == '\0' ? "/" : info.vhost;
  return std::string(info.ssl ? "amqps://" : "amqp://") + info.user + "@" + info.host + ":" +
         std::to_string(info.port) + (vhost == "/" ? "/" : "/" + vhost);
}

}  // namespace prescale::aggregator
