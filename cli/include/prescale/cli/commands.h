// prescalectl's verbs: get, apply -f, edit, delete, explain, actions, audit,
// tokens, config, completion. Run takes the command line (without the
// program's name) and what it needs of the process's environment, prints on
// the given streams and returns the exit status (kExit* of client.h).
#pragma once

#include <cstdio>
#include <span>
#include <string>

namespace prescale::cli {

struct Environment {
  std::string home;             // $HOME
  std::string config;           // $PRESCALECTL_CONFIG
  std::string token;            // $PRESCALE_TOKEN
  std::string editor;           // $PRESCALE_EDITOR, else $VISUAL, else $EDITOR; "" for vi
  std::string tmpdir = "/tmp";  // $TMPDIR
};

struct Streams {
  std::FILE* in = stdin;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
};

int Run(std::span<const std::string> args, const Environment& env, const Streams& io);

// The text of `prescalectl --help`.
std::string UsageText();
// `prescalectl completion bash`.
std::string BashCompletion();

}  // namespace prescale::cli
