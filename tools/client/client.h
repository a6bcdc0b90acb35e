// The duet CLI's remote side: commands that talk to a running gateway, and `duet up`, which
// starts the four servers. The CLI (tools/duet_main.cc) dispatches to these.
#pragma once

namespace duet::client {

// Each takes the whole argv (argv[1] is the command name), accepts --help, reports errors on
// stderr naming the bad argument, and returns the process exit code.

// `duet up --model DIR [--listen HOST:PORT] [--bin-dir DIR]`: starts duet-text-encoder,
// duet-image-codec, duet-transformer and duet-gateway on loopback as child processes, waits
// until all four report SERVING, prints their addresses, and on Ctrl-C/SIGTERM stops them all
// (each drains) and returns 0. Call before starting any thread: it blocks SIGINT/SIGTERM.
int RunUp(int argc, char** argv);

// `duet generate --server ADDR [-n N] [--seed S] [-o DIR] [sampling flags] "prompt"`: writes
// draft_<i>_seed<S>.png (metadata from the server) and contact_sheet.png into DIR.
int RunRemoteGenerate(int argc, char** argv);

// `duet caption --server ADDR FILE...` or `--dir DIR`: one JSON line per image on stdout
// ({"path", "caption", "score"} or {"path", "error"}), streamed through CaptionStream.
int RunRemoteCaption(int argc, char** argv);

// `duet health --server ADDR [--tls-ca FILE] [--wait SECONDS]`: 0 when the server answers
// grpc.health.v1 SERVING, 1 when it does not (in time), 2 for bad flags.
int RunHealth(int argc, char** argv);

}  // namespace duet::client
