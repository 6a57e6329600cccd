// The scope table and the display names of tensors (scope.hpp).
#include "xgrad/autograd/tape/scope.hpp"

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

namespace detail {
[[gnu::tls_model("initial-exec")]] constinit thread_local ScopeId current_scope = 0;
[[gnu::tls_model("initial-exec")]] constinit thread_local ScopeId last_composite = 0;
[[gnu::tls_model("initial-exec")]] constinit thread_local const char* composite_name = nullptr;
[[gnu::tls_model(
    "initial-exec")]] constinit thread_local CompositeCacheEntry composite_cache[composite_cache_size];
}  // namespace detail

namespace {

struct ScopeTable {
  std::mutex mutex;
  std::deque<ScopeInfo> entries{ScopeInfo{}};  // id 0: no scope
  std::map<std::pair<ScopeId, std::string>, ScopeId, std::less<>> ids;
};
ScopeTable& scopes() {
  static ScopeTable* t = new ScopeTable;  // never destroyed: threads may record at exit
  return *t;
}

struct NameEntry {
  std::weak_ptr<TensorImpl> tensor;
  std::string name;
};
struct NameTable {
  std::mutex mutex;
  std::unordered_map<const TensorImpl*, NameEntry> names;
  std::size_t sweep_at = 1024;
};
NameTable& names() {
  static NameTable* t = new NameTable;
  return *t;
}

}  // namespace

ScopeId scope_child(ScopeId parent, std::string_view name, std::string_view type) {
  ScopeTable& t = scopes();
  const std::lock_guard<std::mutex> lock(t.mutex);
  if (parent >= t.entries.size()) parent = 0;
  // (roots, which have no segment, are told apart by their type)
  // (built by append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here)
  std::string segment;
  if (name.empty()) {
    segment.push_back('\x01');
    segment.append(type);
  } else {
    segment.assign(name);
  }
  auto key = std::make_pair(parent, std::move(segment));
  if (auto it = t.ids.find(key); it != t.ids.end()) {
    ScopeInfo& e = t.entries[it->second];
    if (e.type.empty() && !type.empty()) e.type = std::string(type);
    return it->second;
  }
  ScopeInfo e;
  e.parent = parent;
  e.name = std::string(name);
  e.type = std::string(type);
  const ScopeInfo& p = t.entries[parent];
  if (name.empty()) {  // a root: no segment of its own
    e.path = p.path;
    e.depth = p.depth;
  } else {
    e.path = p.path.empty() ? e.name : p.path + "." + e.name;
    e.depth = p.depth + 1;
  }
  const auto id = static_cast<ScopeId>(t.entries.size());
  t.entries.push_back(std::move(e));
  t.ids.emplace(std::move(key), id);
  return id;
}

ScopeId scope_composite(ScopeId parent, std::string_view name, bool twin) {
  ScopeTable& t = scopes();
  const std::lock_guard<std::mutex> lock(t.mutex);
  if (parent >= t.entries.size()) parent = 0;
  // Keyed apart from a module or named scope of the same name (and the twin from the first).
  std::string segment(1, twin ? '\x03' : '\x02');
  segment.append(name);
  auto key = std::make_pair(parent, std::move(segment));
  if (auto it = t.ids.find(key); it != t.ids.end()) return it->second;
  ScopeInfo e;
  e.parent = parent;
  e.name = std::string(name);
  e.type = "composite";
  e.composite = true;
  const ScopeInfo& p = t.entries[parent];
  e.path = p.path.empty() ? e.name : p.path + "/" + e.name;
  e.depth = p.depth + 1;
  const auto id = static_cast<ScopeId>(t.entries.size());
  t.entries.push_back(std::move(e));
  t.ids.emplace(std::move(key), id);
  return id;
}

namespace detail {
ScopeId composite_scope_miss(ScopeId parent, std::string_view name, CompositeCacheEntry& e) {
  ScopeTable& t = scopes();
  const ScopeId first = scope_composite(parent, name, false), twin = scope_composite(parent, name, true);
  e.parent = parent;
  e.key = name.data();
  {
    const std::lock_guard<std::mutex> lock(t.mutex);
    e.name = t.entries[first].name;  // (a deque: the entry does not move when the table grows)
  }
  e.ids[0] = first;
  e.ids[1] = twin;
  return first;
}
}  // namespace detail

ScopeInfo scope_info(ScopeId id) {
  ScopeTable& t = scopes();
  const std::lock_guard<std::mutex> lock(t.mutex);
  return id < t.entries.size() ? t.entries[id] : ScopeInfo{};
}

bool scope_within(ScopeId id, ScopeId ancestor) {
  ScopeTable& t = scopes();
  const std::lock_guard<std::mutex> lock(t.mutex);
  for (int guard = 0; id < t.entries.size() && guard < 4096; ++guard) {
    if (id == ancestor) return true;
    if (id == 0) return false;
    id = t.entries[id].parent;
  }
  return false;
}

ScopeId scope_at_depth(ScopeId id, int depth) {
  ScopeTable& t = scopes();
  const std::lock_guard<std::mutex> lock(t.mutex);
  if (id >= t.entries.size()) return id;
  // Up while deeper; a root (no segment) above a depth-1 scope is not a stop.
  while (id != 0 && t.entries[id].depth > depth) id = t.entries[id].parent;
  return id;
}

void set_display_name(const Tensor& t, std::string name) {
  if (!t.defined()) return;
  NameTable& n = names();
  const std::lock_guard<std::mutex> lock(n.mutex);
  n.names[t.impl().get()] = NameEntry{t.impl(), std::move(name)};
  if (n.names.size() >= n.sweep_at) {  // drop the dead, so that the table follows the live tensors
    std::erase_if(n.names, [](const auto& kv) { return kv.second.tensor.expired(); });
    n.sweep_at = 2 * n.names.size() + 1024;
  }
}

std::string display_name(const TensorImpl* impl) {
  NameTable& n = names();
  const std::lock_guard<std::mutex> lock(n.mutex);
  auto it = n.names.find(impl);
  if (it == n.names.end()) return {};
  const auto live = it->second.tensor.lock();
  return live.get() == impl ? it->second.name : std::string();
}

}  // namespace xg
