// torch.distributed's native half: c10d stores (TCPStore, FileStore, PrefixStore), process groups
// (ProcessGroupGloo; ProcessGroupNCCL in CUDA builds) and their collectives. A collective returns a
// Work handle that JS either waits on (blocking the main thread, as PyTorch's wait() does) or turns
// into a Promise whose wait runs on libuv's thread pool, so the event loop keeps going.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/accumulate_grad.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "dist_stores.h"
#include "handles.h"
#include "heartbeat.h"
#include "ops.h"

namespace tessera {

namespace {

using std::chrono::milliseconds;

enum class DistKind : uint32_t { Store = 0x7e45d001, Group = 0x7e45d002, Work = 0x7e45d003 };

struct DistHandle {
  DistKind kind;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> group;
  c10::intrusive_ptr<c10d::Work> work;
  std::vector<at::Tensor> keep_alive;  // a Work's tensors must outlive the collective
};

void finalize_dist(node_api_basic_env, void* data, void*) { delete static_cast<DistHandle*>(data); }

napi_value wrap(napi_env env, std::unique_ptr<DistHandle> h) {
  napi_value ext;
  NAPI_CHECK(napi_create_external(env, h.get(), finalize_dist, nullptr, &ext));
  h.release();
  return ext;
}

DistHandle* unwrap(napi_env env, napi_value v, DistKind kind, const char* what) {
  void* data = nullptr;
  if (type_of(env, v) != napi_external || napi_get_value_external(env, v, &data) != napi_ok || data == nullptr ||
      static_cast<DistHandle*>(data)->kind != kind)
    throw type_error(std::string(what) + " is not a valid handle");
  return static_cast<DistHandle*>(data);
}

c10d::Store& store_arg(napi_env env, napi_value v) { return *unwrap(env, v, DistKind::Store, "store")->store; }

c10d::Backend& group_arg(napi_env env, napi_value v) {
  DistHandle* h = unwrap(env, v, DistKind::Group, "process group");
  if (!h->group) throw JsError(JsError::Kind::Error, "the process group was destroyed");
  return *h->group;
}

milliseconds ms_arg(napi_env env, napi_value v, const char* what) { return milliseconds(get_int64(env, v, what)); }

std::vector<at::Tensor> tensors_arg(napi_env env, napi_value arr, const char* what) {
  if (!is_array(env, arr)) throw type_error(std::string(what) + " must be an array of Tensors");
  std::vector<at::Tensor> out;
  for (uint32_t i = 0, n = array_length(env, arr); i < n; ++i) out.push_back(unwrap_tensor_object(env, array_get(env, arr, i), what, i));
  return out;
}

std::vector<int64_t> ints_arg(napi_env env, napi_value arr, const char* what) {
  if (!is_array(env, arr)) throw type_error(std::string(what) + " must be an array of integers");
  std::vector<int64_t> out;
  for (uint32_t i = 0, n = array_length(env, arr); i < n; ++i) out.push_back(get_int64(env, array_get(env, arr, i), what));
  return out;
}

c10d::ReduceOp reduce_op(const std::string& name) {
  using R = c10d::ReduceOp;
  if (name == "SUM") return R::SUM;
  if (name == "AVG") return R::AVG;
  if (name == "PRODUCT") return R::PRODUCT;
  if (name == "MIN") return R::MIN;
  if (name == "MAX") return R::MAX;
  if (name == "BAND") return R::BAND;
  if (name == "BOR") return R::BOR;
  if (name == "BXOR") return R::BXOR;
  throw type_error("unknown ReduceOp '" + name + "'");
}

napi_value wrap_work(napi_env env, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> keep) {
  auto h = std::make_unique<DistHandle>(DistHandle{DistKind::Work, {}, {}, std::move(work), std::move(keep)});
  return wrap(env, std::move(h));
}

// ---- stores ---------------------------------------------------------------------------------

bool is_loopback(const sockaddr* a) {
  if (a->sa_family == AF_INET) return (ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr) >> 24) == 127;
  if (a->sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr);
  return false;
}

// libtorch's TCPStore server listens on every interface whatever host it is given. The server
// here gets a socket already listening on `host` alone (TCPStoreOptions::masterListenFd), so a
// store given 127.0.0.1 is reachable from this machine only. Returns -1 (listen everywhere, as
// libtorch does) for a host name this machine maps to loopback, as Debian's /etc/hosts maps its
// own name to 127.0.1.1: the other nodes reach that name at the machine's real address.
int listen_on(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) throw JsError(JsError::Kind::Error, "TCPStore: cannot resolve " + host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  in6_addr scratch{};
  bool numeric = inet_pton(AF_INET, host.c_str(), &scratch) == 1 || inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
  bool all_loopback = true;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) all_loopback = all_loopback && is_loopback(a->ai_addr);
  if (!numeric && host != "localhost" && all_loopback) return -1;
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) return fd;
    why = std::strerror(errno);
    close(fd);
  }
  throw JsError(JsError::Kind::Error, "TCPStore: cannot listen on " + host + ":" + std::to_string(port) + ": " + why);
}

// tcpStore(host, port, isServer, worldSize, timeoutMs, waitWorkers)
TESSERA_ENTRY(js_tcp_store) {
  auto ci = get_args(env, info, 6);
  c10d::TCPStoreOptions o;
  int64_t port = get_int64(env, ci.args.at(1), "port");
  if (port < 0 || port > 65535) throw JsError(JsError::Kind::RangeError, "port must be in 0..65535, got " + std::to_string(port));
  o.port = static_cast<uint16_t>(port);
  o.isServer = get_bool(env, ci.args.at(2), "isServer");
  int64_t world = get_int64(env, ci.args.at(3), "worldSize");
  if (world > 0) o.numWorkers = static_cast<size_t>(world);
  o.timeout = ms_arg(env, ci.args.at(4), "timeout");
  o.waitWorkers = get_bool(env, ci.args.at(5), "waitWorkers");
  std::string host = get_string(env, ci.args.at(0), "host");
  if (o.isServer) {
    int fd = listen_on(host, o.port);
    if (fd >= 0) o.masterListenFd = fd;
  }
  c10::intrusive_ptr<c10d::TCPStore> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(host, o);
  } catch (...) {
    if (o.masterListenFd) close(*o.masterListenFd);
    throw;
  }
  return wrap(env, std::make_unique<DistHandle>(DistHandle{DistKind::Store, store, {}, {}, {}}));
}

// tcpStorePort(store) -> the port the server bound (useful with port 0)
TESSERA_ENTRY(js_tcp_store_port) {
  auto ci = get_args(env, info, 1);
  auto* tcp = dynamic_cast<c10d::TCPStore*>(&store_arg(env, ci.args.at(0)));
  if (tcp == nullptr) throw type_error("store is not a TCPStore");
  return make_int64(env, tcp->getPort());
}

// fileStore(path, worldSize, timeoutMs)
TESSERA_ENTRY(js_file_store) {
  auto ci = get_args(env, info, 3);
  auto store = c10::make_intrusive<c10d::FileStore>(get_string(env, ci.args.at(0), "path"),
                                                    static_cast<int>(get_int64(env, ci.args.at(1), "worldSize")));
  store->setTimeout(ms_arg(env, ci.args.at(2), "timeout"));
  return wrap(env, std::make_unique<DistHandle>(DistHandle{DistKind::Store, store, {}, {}, {}}));
}

// prefixStore(prefix, store)
TESSERA_ENTRY(js_prefix_store) {
  auto ci = get_args(env, info, 2);
  auto base = unwrap(env, ci.args.at(1), DistKind::Store, "store")->store;
  auto store = c10::make_intrusive<c10d::PrefixStore>(get_string(env, ci.args.at(0), "prefix"), base);
  return wrap(env, std::make_unique<DistHandle>(DistHandle{DistKind::Store, store, {}, {}, {}}));
}

// sealedStore(token, store): the job's store, every value sealed with its token (dist_stores.h)
TESSERA_ENTRY(js_sealed_store) {
  auto ci = get_args(env, info, 2);
  auto base = unwrap(env, ci.args.at(1), DistKind::Store, "store")->store;
  auto store = sealed_store(get_string(env, ci.args.at(0), "token"), base);
  return wrap(env, std::make_unique<DistHandle>(DistHandle{DistKind::Store, store, {}, {}, {}}));
}

TESSERA_ENTRY(js_store_set) {
  auto ci = get_args(env, info, 3);
  store_arg(env, ci.args.at(0)).set(get_string(env, ci.args.at(1), "key"), get_string(env, ci.args.at(2), "value"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_store_get) {
  auto ci = get_args(env, info, 2);
  std::vector<uint8_t> v = store_arg(env, ci.args.at(0)).get(get_string(env, ci.args.at(1), "key"));
  return make_string(env, std::string(v.begin(), v.end()));
}

TESSERA_ENTRY(js_store_add) {
  auto ci = get_args(env, info, 3);
  return make_int64(env, store_arg(env, ci.args.at(0)).add(get_string(env, ci.args.at(1), "key"), get_int64(env, ci.args.at(2), "amount")));
}

// storeWait(store, keys[], timeoutMs)
TESSERA_ENTRY(js_store_wait) {
  auto ci = get_args(env, info, 3);
  std::vector<std::string> keys;
  for (uint32_t i = 0, n = array_length(env, ci.args.at(1)); i < n; ++i) keys.push_back(get_string(env, array_get(env, ci.args.at(1), i), "key"));
  store_arg(env, ci.args.at(0)).wait(keys, ms_arg(env, ci.args.at(2), "timeout"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_store_set_timeout) {
  auto ci = get_args(env, info, 2);
  store_arg(env, ci.args.at(0)).setTimeout(ms_arg(env, ci.args.at(1), "timeout"));
  return make_undefined(env);
}

// ---- the heartbeat (heartbeat.h) -------------------------------------------------------------

// heartbeatSetFd(fd): the pipe to the launcher, or -1
TESSERA_ENTRY(js_heartbeat_set_fd) {
  auto ci = get_args(env, info, 1);
  heartbeat::set_fd(static_cast<int>(get_int64(env, ci.args.at(0), "fd")));
  return make_undefined(env);
}

TESSERA_ENTRY(js_heartbeat_wait_begin) {
  heartbeat::wait_begin();
  return make_undefined(env);
}

TESSERA_ENTRY(js_heartbeat_wait_end) {
  heartbeat::wait_end();
  return make_undefined(env);
}

// ---- process groups -------------------------------------------------------------------------

#ifdef USE_C10D_GLOO
// Gloo binds to an interface: GLOO_SOCKET_IFNAME when set (as in PyTorch), else `host`, else the
// address this machine's hostname resolves to.
c10::intrusive_ptr<c10d::Backend> make_gloo(c10::intrusive_ptr<c10d::Store> store, int rank, int size, milliseconds timeout,
                                            const std::string& host) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname != nullptr && *ifname != '\0') opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (!host.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
  else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  // Gloo parses its peers' records without bounds checks (a bad length is std::bad_alloc or a
  // read past the end); they are checked on the way.
  return c10::make_intrusive<c10d::ProcessGroupGloo>(gloo_record_check(std::move(store), size), rank, size, opts);
}
#endif

#ifdef USE_C10D_NCCL
c10::intrusive_ptr<c10d::Backend> make_nccl(c10::intrusive_ptr<c10d::Store> store, int rank, int size, milliseconds timeout) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
}
#endif

// newGroup(backend, store, rank, size, timeoutMs, host)
TESSERA_ENTRY(js_new_group) {
  auto ci = get_args(env, info, 6);
  std::string backend = get_string(env, ci.args.at(0), "backend");
  auto store = unwrap(env, ci.args.at(1), DistKind::Store, "store")->store;
  int rank = static_cast<int>(get_int64(env, ci.args.at(2), "rank"));
  int size = static_cast<int>(get_int64(env, ci.args.at(3), "size"));
  milliseconds timeout = ms_arg(env, ci.args.at(4), "timeout");
  std::string host = get_string(env, ci.args.at(5), "host");
  c10::intrusive_ptr<c10d::Backend> group;
#ifdef USE_C10D_GLOO
  if (backend == "gloo") group = make_gloo(store, rank, size, timeout, host);
#endif
#ifdef USE_C10D_NCCL
  if (backend == "nccl") group = make_nccl(store, rank, size, timeout);
#endif
  if (!group) throw JsError(JsError::Kind::Error, "torch.distributed: backend '" + backend + "' is not available in this build");
  return wrap(env, std::make_unique<DistHandle>(DistHandle{DistKind::Group, {}, group, {}, {}}));
}

TESSERA_ENTRY(js_available_backends) {
  std::vector<std::string> names;
#ifdef USE_C10D_GLOO
  names.push_back("gloo");
#endif
#ifdef USE_C10D_NCCL
  names.push_back("nccl");
#endif
  napi_value arr = make_array(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, make_string(env, names[i])));
  return arr;
}

// destroyGroup(group): drops the backend now rather than at GC time (joins Gloo's threads).
TESSERA_ENTRY(js_destroy_group) {
  auto ci = get_args(env, info, 1);
  unwrap(env, ci.args.at(0), DistKind::Group, "process group")->group.reset();
  return make_undefined(env);
}

// ---- collectives ----------------------------------------------------------------------------

// allreduce(group, tensor, op)
TESSERA_ENTRY(js_allreduce) {
  auto ci = get_args(env, info, 3);
  std::vector<at::Tensor> ts{unwrap_tensor_object(env, ci.args.at(1), "tensor")};
  c10d::AllreduceOptions o;
  o.reduceOp = reduce_op(get_string(env, ci.args.at(2), "op"));
  return wrap_work(env, group_arg(env, ci.args.at(0)).allreduce(ts, o), ts);
}

// broadcast(group, tensor, rootRank)
TESSERA_ENTRY(js_broadcast) {
  auto ci = get_args(env, info, 3);
  std::vector<at::Tensor> ts{unwrap_tensor_object(env, ci.args.at(1), "tensor")};
  c10d::BroadcastOptions o;
  o.rootRank = get_int64(env, ci.args.at(2), "src");
  return wrap_work(env, group_arg(env, ci.args.at(0)).broadcast(ts, o), ts);
}

// allgather(group, outputs[], input)
TESSERA_ENTRY(js_allgather) {
  auto ci = get_args(env, info, 3);
  std::vector<std::vector<at::Tensor>> outs{tensors_arg(env, ci.args.at(1), "tensor_list")};
  std::vector<at::Tensor> in{unwrap_tensor_object(env, ci.args.at(2), "tensor")};
  std::vector<at::Tensor> keep = outs[0];
  keep.push_back(in[0]);
  return wrap_work(env, group_arg(env, ci.args.at(0)).allgather(outs, in), keep);
}

// allgatherBase(group, output, input)
TESSERA_ENTRY(js_allgather_base) {
  auto ci = get_args(env, info, 3);
  at::Tensor out = unwrap_tensor_object(env, ci.args.at(1), "output_tensor");
  at::Tensor in = unwrap_tensor_object(env, ci.args.at(2), "input_tensor");
  return wrap_work(env, group_arg(env, ci.args.at(0))._allgather_base(out, in), {out, in});
}

// reduceScatterBase(group, output, input, op)
TESSERA_ENTRY(js_reduce_scatter_base) {
  auto ci = get_args(env, info, 4);
  at::Tensor out = unwrap_tensor_object(env, ci.args.at(1), "output");
  at::Tensor in = unwrap_tensor_object(env, ci.args.at(2), "input");
  c10d::ReduceScatterOptions o;
  o.reduceOp = reduce_op(get_string(env, ci.args.at(3), "op"));
  return wrap_work(env, group_arg(env, ci.args.at(0))._reduce_scatter_base(out, in, o), {out, in});
}

// alltoallBase(group, output, input, outputSplits[], inputSplits[])
TESSERA_ENTRY(js_alltoall_base) {
  auto ci = get_args(env, info, 5);
  at::Tensor out = unwrap_tensor_object(env, ci.args.at(1), "output");
  at::Tensor in = unwrap_tensor_object(env, ci.args.at(2), "input");
  std::vector<int64_t> out_splits = ints_arg(env, ci.args.at(3), "output_split_sizes");
  std::vector<int64_t> in_splits = ints_arg(env, ci.args.at(4), "input_split_sizes");
  return wrap_work(env, group_arg(env, ci.args.at(0)).alltoall_base(out, in, out_splits, in_splits), {out, in});
}

// send(group, tensor, dstRank, tag) / recv(group, tensor, srcRank, tag)
TESSERA_ENTRY(js_send) {
  auto ci = get_args(env, info, 4);
  std::vector<at::Tensor> ts{unwrap_tensor_object(env, ci.args.at(1), "tensor")};
  int dst = static_cast<int>(get_int64(env, ci.args.at(2), "dst"));
  int tag = static_cast<int>(get_int64(env, ci.args.at(3), "tag"));
  return wrap_work(env, group_arg(env, ci.args.at(0)).send(ts, dst, tag), ts);
}

TESSERA_ENTRY(js_recv) {
  auto ci = get_args(env, info, 4);
  std::vector<at::Tensor> ts{unwrap_tensor_object(env, ci.args.at(1), "tensor")};
  int src = static_cast<int>(get_int64(env, ci.args.at(2), "src"));
  int tag = static_cast<int>(get_int64(env, ci.args.at(3), "tag"));
  return wrap_work(env, group_arg(env, ci.args.at(0)).recv(ts, src, tag), ts);
}

TESSERA_ENTRY(js_barrier) {
  auto ci = get_args(env, info, 1);
  return wrap_work(env, group_arg(env, ci.args.at(0)).barrier(), {});
}

// startCoalescing(group) / endCoalescing(group) -> work: NCCL groups the point-to-point ops issued
// in between into one launch (batch_isend_irecv), which avoids send/recv ordering deadlocks.
TESSERA_ENTRY(js_start_coalescing) {
  auto ci = get_args(env, info, 1);
  group_arg(env, ci.args.at(0)).startCoalescing();
  return make_undefined(env);
}

TESSERA_ENTRY(js_end_coalescing) {
  auto ci = get_args(env, info, 1);
  return wrap_work(env, group_arg(env, ci.args.at(0)).endCoalescing(), {});
}

// ---- work -----------------------------------------------------------------------------------

// workWait(work, timeoutMs | -1): blocks this thread until the collective finished; throws its error.
TESSERA_ENTRY(js_work_wait) {
  auto ci = get_args(env, info, 2);
  DistHandle* h = unwrap(env, ci.args.at(0), DistKind::Work, "work");
  int64_t t = get_int64(env, ci.args.at(1), "timeout");
  if (!h->work) return make_bool(env, true);
  bool ok = t < 0 ? h->work->wait() : h->work->wait(milliseconds(t));
  // Finished: the work and the tensors it kept (Gloo's copies among them) go now, not when the
  // JS object is collected; a sync collective's memory is then back before the call returns.
  if (ok) {
    h->work.reset();
    h->keep_alive.clear();
  }
  return make_bool(env, ok);
}

TESSERA_ENTRY(js_work_is_completed) {
  auto ci = get_args(env, info, 1);
  DistHandle* h = unwrap(env, ci.args.at(0), DistKind::Work, "work");
  return make_bool(env, !h->work || h->work->isCompleted());
}

// workPromise(work) -> Promise<void>: the wait runs on the thread pool, the settle on the main thread.
struct WaitJob {
  napi_async_work async = nullptr;
  napi_deferred deferred = nullptr;
  c10::intrusive_ptr<c10d::Work> work;
  std::vector<at::Tensor> keep_alive;
  std::string error;
};

void wait_execute(napi_env, void* data) {
  auto* job = static_cast<WaitJob*>(data);
  try {
    job->work->wait();
  } catch (const std::exception& e) {
    job->error = e.what();
  }
}

void wait_complete(napi_env env, napi_status, void* data) {
  std::unique_ptr<WaitJob> job(static_cast<WaitJob*>(data));
  napi_value undefined = make_undefined(env);
  if (job->error.empty()) {
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, job->error.c_str(), job->error.size(), &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  napi_delete_async_work(env, job->async);
}

TESSERA_ENTRY(js_work_promise) {
  auto ci = get_args(env, info, 1);
  DistHandle* h = unwrap(env, ci.args.at(0), DistKind::Work, "work");
  auto job = std::make_unique<WaitJob>();
  if (!h->work) {
    napi_value promise;
    napi_deferred deferred;
    NAPI_CHECK(napi_create_promise(env, &deferred, &promise));
    NAPI_CHECK(napi_resolve_deferred(env, deferred, make_undefined(env)));
    return promise;
  }
  job->work = h->work;
  job->keep_alive = h->keep_alive;
  napi_value promise, name = make_string(env, "tessera.distributed.wait");
  NAPI_CHECK(napi_create_promise(env, &job->deferred, &promise));
  NAPI_CHECK(napi_create_async_work(env, nullptr, name, wait_execute, wait_complete, job.get(), &job->async));
  NAPI_CHECK(napi_queue_async_work(env, job->async));
  job.release();
  return promise;
}

// ---- autograd graph -------------------------------------------------------------------------

// reachableLeaves(outputs[]) -> Tensor[]: the leaves whose AccumulateGrad the backward of `outputs`
// reaches. DDP's find_unused_parameters marks every other parameter ready at once.
TESSERA_ENTRY(js_reachable_leaves) {
  auto ci = get_args(env, info, 1);
  std::vector<torch::autograd::Node*> stack;
  std::unordered_set<torch::autograd::Node*> seen;
  for (const at::Tensor& t : tensors_arg(env, ci.args.at(0), "outputs"))
    if (auto fn = t.grad_fn()) stack.push_back(fn.get());
  std::vector<at::Tensor> leaves;
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) continue;
    if (auto* acc = dynamic_cast<torch::autograd::AccumulateGrad*>(node)) leaves.push_back(acc->variable);
    for (const auto& edge : node->next_edges())
      if (edge.function) stack.push_back(edge.function.get());
  }
  napi_value arr = make_array(env, leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, wrap_tensor(env, leaves[i])));
  return arr;
}

}  // namespace

void register_distributed_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "distTcpStore", js_tcp_store);
  set_function(env, exports, "distTcpStorePort", js_tcp_store_port);
  set_function(env, exports, "distFileStore", js_file_store);
  set_function(env, exports, "distPrefixStore", js_prefix_store);
  set_function(env, exports, "distSealedStore", js_sealed_store);
  set_function(env, exports, "heartbeatSetFd", js_heartbeat_set_fd);
  set_function(env, exports, "heartbeatWaitBegin", js_heartbeat_wait_begin);
  set_function(env, exports, "heartbeatWaitEnd", js_heartbeat_wait_end);
  set_function(env, exports, "distStoreSet", js_store_set);
  set_function(env, exports, "distStoreGet", js_store_get);
  set_function(env, exports, "distStoreAdd", js_store_add);
  set_function(env, exports, "distStoreWait", js_store_wait);
  set_function(env, exports, "distStoreSetTimeout", js_store_set_timeout);
  set_function(env, exports, "distNewGroup", js_new_group);
  set_function(env, exports, "distAvailableBackends", js_available_backends);
  set_function(env, exports, "distDestroyGroup", js_destroy_group);
  set_function(env, exports, "distAllreduce", js_allreduce);
  set_function(env, exports, "distBroadcast", js_broadcast);
  set_function(env, exports, "distAllgather", js_allgather);
  set_function(env, exports, "distAllgatherBase", js_allgather_base);
  set_function(env, exports, "distReduceScatterBase", js_reduce_scatter_base);
  set_function(env, exports, "distAlltoallBase", js_alltoall_base);
  set_function(env, exports, "distSend", js_send);
  set_function(env, exports, "distRecv", js_recv);
  set_function(env, exports, "distBarrier", js_barrier);
  set_function(env, exports, "distStartCoalescing", js_start_coalescing);
  set_function(env, exports, "distEndCoalescing", js_end_coalescing);
  set_function(env, exports, "distWorkWait", js_work_wait);
  set_function(env, exports, "distWorkIsCompleted", js_work_is_completed);
  set_function(env, exports, "distWorkPromise", js_work_promise);
  set_function(env, exports, "distReachableLeaves", js_reachable_leaves);
}

}  // namespace tessera
