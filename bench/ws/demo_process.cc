#include "bench/ws/demo_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace vigil::bench::ws {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

DemoProcess::DemoProcess(const std::string& vigil, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<std::string> all = {vigil, "demo"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, vigil.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + vigil + ": " + std::strerror(rc));
  }
  out_fd_ = fds[0];
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) return;
      std::lock_guard lock(mu_);
      output_.append(buf, static_cast<size_t>(n));
    }
  });
}

DemoProcess::~DemoProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) close(out_fd_);
}

std::string DemoProcess::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

uint16_t DemoProcess::wait_console_port(double timeout_s) {
  static const std::regex re(R"(console: http://127\.0\.0\.1:(\d+)/)");
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    std::smatch m;
    std::string out = output();
    if (std::regex_search(out, m, re)) return port_ = static_cast<uint16_t>(std::stoi(m[1]));
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

std::string DemoProcess::get(const std::string& path, const std::string& token) const {
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    return res.result() == http::status::ok ? res.body() : std::string();
  } catch (const std::exception&) {
    return {};
  }
}

std::map<std::string, double> DemoProcess::metrics() const {
  std::map<std::string, double> out;
  std::istringstream in(get("/metrics", "demo-operator"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.find('{') != std::string::npos) continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    try {
      out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    } catch (...) {
    }
  }
  return out;
}

namespace {

// utime + stime (fields 14 and 15) of a /proc stat line, in clock ticks.
double stat_ticks(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t rp = s.rfind(')');  // the command name may hold spaces
  if (rp == std::string::npos) return 0;
  std::istringstream rest(s.substr(rp + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return utime + stime;
}

}  // namespace

CpuSample DemoProcess::cpu() const {
  CpuSample c;
  if (pid_ <= 0) return c;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  const std::string dir = "/proc/" + std::to_string(pid_);
  c.process_s = stat_ticks(dir + "/stat") / hz;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator(dir + "/task", ec)) {
    std::ifstream comm_in(t.path() / "comm");
    std::string comm;
    std::getline(comm_in, comm);
    const double s = stat_ticks((t.path() / "stat").string()) / hz;
    if (comm.rfind("vigil-shard", 0) == 0 || comm == "vigil-dispatch") c.engine_s += s;
    if (comm == "vigil-api-io") c.api_s += s;
  }
  return c;
}

}  // namespace vigil::bench::ws
