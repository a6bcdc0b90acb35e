// A stand-in for the duet CLI's dispatch, used by the process tests: `up`, `generate`,
// `caption` and `health` go straight to the duet_client library.
#include <cstdio>
#include <cstring>

#include "tools/client/client.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "up") == 0) return duet::client::RunUp(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "generate") == 0) {
    return duet::client::RunRemoteGenerate(argc, argv);
  }
  if (argc >= 2 && std::strcmp(argv[1], "caption") == 0) {
    return duet::client::RunRemoteCaption(argc, argv);
  }
  if (argc >= 2 && std::strcmp(argv[1], "health") == 0) return duet::client::RunHealth(argc, argv);
  std::fprintf(stderr, "usage: %s up|generate|caption|health ...\n", argv[0]);
  return 2;
}
