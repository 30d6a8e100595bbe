#include "tests/support/curl.h"

#include <strings.h>

#include <chrono>
#include <cstdlib>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

std::string CurlReply::Header(const std::string& name) const {
  size_t start = 0;
  while (start < headers.size()) {
    size_t end = headers.find('\n', start);
    if (end == std::string::npos) end = headers.size();
    const std::string line = headers.substr(start, end - start);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
      std::string v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ')) v.erase(v.begin());
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
      return v;
    }
    start = end + 1;
  }
  return "";
}

CurlReply Curl(const std::string& method, const std::string& url, const std::string& body,
               const std::vector<std::string>& headers, const std::vector<std::string>& extra_args) {
  TempDir dir("prescale-curl");
  const std::string body_file = dir.Write("body", body);
  const std::string headers_file = dir.path() + "/headers";
  const std::string out_file = dir.path() + "/out";
  std::vector<std::string> argv = {"curl", "-sS",        "-X", method,         "-o",         out_file,
                                   "-D",   headers_file, "-w", "%{http_code}", "--max-time", "20"};
  for (const std::string& h : headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  if (!body.empty()) {
    argv.push_back("--data-binary");
    argv.push_back("@" + body_file);
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.push_back(url);
  const RunResult r = RunCommand(argv, std::chrono::seconds(30));
  CurlReply reply;
  reply.status = std::atoi(r.out.c_str());
  reply.headers = ReadFileOrEmpty(headers_file);
  reply.body = ReadFileOrEmpty(out_file);
  reply.error = r.err;
  return reply;
}

}  // namespace prescale::testing
