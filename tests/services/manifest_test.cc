// deploy/kubernetes.yaml and kubernetes-gpu.yaml against the real server binaries: every
// container's args must name a server the image has, and that server must start with exactly
// those flags (only the addresses and the model path are moved to this machine), answer
// SERVING, and exit 0 on SIGTERM. A renamed or removed flag breaks this test, not a deployment.
#include <signal.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tools/client/child_process.h"
#include "tools/client/health.h"

namespace duet::services::testing {
namespace {

using client::ChildProcess;
using std::chrono::milliseconds;

struct Container {
  std::string server;             // args[0]: transformer, text-encoder, image-codec, gateway
  std::vector<std::string> flags;  // the rest
};

// Every `args: [...]` flow sequence of a manifest, in order (they span lines; items are plain
// or double-quoted scalars).
std::vector<Container> ReadContainers(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  std::vector<Container> containers;
  if (!text.ok()) return containers;
  const std::regex args(R"(args:\s*\[([^\]]*)\])");
  for (auto it = std::sregex_iterator(text->begin(), text->end(), args);
       it != std::sregex_iterator(); ++it) {
    std::vector<std::string> items;
    std::stringstream list((*it)[1].str());
    for (std::string item; std::getline(list, item, ',');) {
      item = std::regex_replace(item, std::regex(R"(^\s+|\s+$|")"), "");
      if (!item.empty()) items.push_back(item);
    }
    if (items.empty()) continue;
    containers.push_back({items[0], {items.begin() + 1, items.end()}});
  }
  return containers;
}

// The manifest's flags for this machine: loopback addresses picked at run time, the repository's
// copy of the model the image holds, and backend targets from `backends` (name -> address).
std::vector<std::string> Localize(const Container& c,
                                  const std::map<std::string, std::string>& backends) {
  std::vector<std::string> argv = {std::string(DUET_BIN_DIR) + "/duet-" + c.server};
  for (const std::string& flag : c.flags) {
    const std::string name = flag.substr(0, flag.find('='));
    if (name == "--listen" || name == "--metrics-listen") {
      argv.push_back(name + "=127.0.0.1:0");
    } else if (name == "--model") {
      EXPECT_EQ(flag, "--model=/opt/duet/models/duet-emoji") << "the image's default model";
      argv.push_back(std::string("--model=") + DUET_SOURCE_DIR + "/assets/models/duet-emoji");
    } else if (backends.count(name.substr(2)) != 0) {
      argv.push_back(name + "=" + backends.at(name.substr(2)));
    } else {
      argv.push_back(flag);
    }
  }
  return argv;
}

// Starts the server, waits for SERVING and its metrics address, and returns it running.
std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv, std::string* address) {
  auto child = ChildProcess::Spawn(argv);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return nullptr;
  StatusOr<std::string> listening = (*child)->WaitForAddress(milliseconds(60000));
  EXPECT_TRUE(listening.ok()) << argv[0] << ": " << listening.status();
  if (!listening.ok()) return nullptr;
  *address = *listening;
  EXPECT_TRUE((*child)->WaitForAddress(milliseconds(10000), " metrics on ").ok()) << argv[0];
  EXPECT_TRUE(client::WaitServing(*address, milliseconds(30000)).ok()) << argv[0];
  return std::move(*child);
}

TEST(ManifestTest, EveryServerStartsWithTheManifestsFlags) {
  const std::string deploy = std::string(DUET_SOURCE_DIR) + "/deploy/";
  std::vector<Container> containers = ReadContainers(deploy + "kubernetes.yaml");
  ASSERT_EQ(containers.size(), 4u);
  // The gateway names its backends; start them first.
  std::stable_partition(containers.begin(), containers.end(),
                        [](const Container& c) { return c.server != "gateway"; });
  std::map<std::string, std::string> backends;
  std::vector<std::unique_ptr<ChildProcess>> running;
  for (const Container& c : containers) {
    if (c.server == "gateway") {
      for (const char* target : {"text-encoder", "image-codec", "transformer"}) {
        ASSERT_EQ(backends.count(target), 1u) << target << " has no Deployment";
        const std::string flag = std::string("--") + target + "=dns:///duet-" + target + ":";
        EXPECT_TRUE(std::any_of(c.flags.begin(), c.flags.end(),
                                [&](const std::string& f) { return f.rfind(flag, 0) == 0; }))
            << "the gateway should reach " << target << " through its headless Service";
      }
    }
    std::string address;
    running.push_back(Start(Localize(c, backends), &address));
    ASSERT_NE(running.back(), nullptr) << c.server;
    backends[c.server] = address;
  }
  for (auto& child : running) child->Signal(SIGTERM);
  for (auto& child : running) {
    StatusOr<int> code = child->Wait(milliseconds(60000));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 0);
  }
}

TEST(ManifestTest, GpuTransformerAsksForCudaAndStartsWithItsFlags) {
  std::vector<Container> containers =
      ReadContainers(std::string(DUET_SOURCE_DIR) + "/deploy/kubernetes-gpu.yaml");
  ASSERT_EQ(containers.size(), 1u);
  ASSERT_EQ(containers[0].server, "transformer");
  auto device = std::find(containers[0].flags.begin(), containers[0].flags.end(), "--device=cuda");
  ASSERT_NE(device, containers[0].flags.end());
  if (!torch::cuda::is_available()) {
    // Where no GPU is visible, --device=cuda refuses to start, and says why.
    auto child = ChildProcess::Spawn(Localize(containers[0], {}));
    ASSERT_TRUE(child.ok());
    StatusOr<int> code = (*child)->Wait(milliseconds(60000));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 1);
    *device = "--device=auto";  // every other flag as the manifest has it
  }
  std::string address;
  auto child = Start(Localize(containers[0], {}), &address);
  ASSERT_NE(child, nullptr);
  child->Signal(SIGTERM);
  StatusOr<int> code = child->Wait(milliseconds(60000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace duet::services::testing
