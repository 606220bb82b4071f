// See dist_stores.h. OpenSSL is Node's own (its symbols are exported to addons, its headers ship in
// Node's include folder), so the addon needs no library of its own for the sealing.
#include "dist_stores.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>
#include <regex>
#include <stdexcept>

namespace tessera {

namespace {

// Forwards every operation to `inner`; subclasses transform values on their way in and out.
class ForwardingStore : public c10d::Store {
 public:
  explicit ForwardingStore(c10::intrusive_ptr<c10d::Store> inner) : c10d::Store(inner->getTimeout()), inner_(std::move(inner)) {}

  void set(const std::string& key, const std::vector<uint8_t>& value) override { inner_->set(key, encode(key, value)); }
  std::vector<uint8_t> get(const std::string& key) override { return decode(key, inner_->get(key)); }
  std::vector<std::vector<uint8_t>> multiGet(const std::vector<std::string>& keys) override {
    auto values = inner_->multiGet(keys);
    for (size_t i = 0; i < values.size() && i < keys.size(); ++i) values[i] = decode(keys[i], values[i]);
    return values;
  }
  void multiSet(const std::vector<std::string>& keys, const std::vector<std::vector<uint8_t>>& values) override {
    std::vector<std::vector<uint8_t>> encoded;
    for (size_t i = 0; i < values.size() && i < keys.size(); ++i) encoded.push_back(encode(keys[i], values[i]));
    inner_->multiSet(keys, encoded);
  }
  int64_t add(const std::string& key, int64_t value) override { return inner_->add(key, value); }
  bool deleteKey(const std::string& key) override { return inner_->deleteKey(key); }
  bool check(const std::vector<std::string>& keys) override { return inner_->check(keys); }
  int64_t getNumKeys() override { return inner_->getNumKeys(); }
  void wait(const std::vector<std::string>& keys) override { inner_->wait(keys); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override { inner_->wait(keys, timeout); }
  const std::chrono::milliseconds& getTimeout() const noexcept override { return inner_->getTimeout(); }
  void setTimeout(const std::chrono::milliseconds& timeout) override { inner_->setTimeout(timeout); }
  bool hasExtendedApi() const override { return inner_->hasExtendedApi(); }
  std::vector<std::string> listKeys() override { return inner_->listKeys(); }
  void barrier(const std::string& key, int64_t world_size, const std::chrono::milliseconds& timeout) override {
    inner_->barrier(key, world_size, timeout);
  }
  // Appended bytes, compared values and queued items cannot be checked one by one, so neither
  // store offers them (nothing that rendezvous through these stores uses them).
  void append(const std::string& key, const std::vector<uint8_t>&) override { unsupported("append", key); }
  std::vector<uint8_t> compareSet(const std::string& key, const std::vector<uint8_t>&, const std::vector<uint8_t>&) override {
    unsupported("compareSet", key);
  }
  void queuePush(const std::string& key, const std::vector<uint8_t>&) override { unsupported("queuePush", key); }
  std::vector<uint8_t> queuePop(const std::string& key, bool) override { unsupported("queuePop", key); }

 protected:
  virtual std::vector<uint8_t> encode(const std::string& key, const std::vector<uint8_t>& value) = 0;
  virtual std::vector<uint8_t> decode(const std::string& key, const std::vector<uint8_t>& value) = 0;
  c10::intrusive_ptr<c10d::Store> inner_;

 private:
  [[noreturn]] static void unsupported(const char* what, const std::string& key) {
    throw std::runtime_error(std::string("store key '") + key + "': " + what + " is not supported on a checked job store");
  }
};

// ---- sealing with the job's token -----------------------------------------------------------

constexpr char kMagic[4] = {'T', 'S', 'J', '1'};
constexpr size_t kNonce = 12, kTag = 16, kKey = 32;

struct CipherCtx {
  EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
  CipherCtx() {
    if (p == nullptr) throw std::bad_alloc();
  }
  ~CipherCtx() { EVP_CIPHER_CTX_free(p); }
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
};

void ssl_check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string("job store: OpenSSL ") + what + " failed");
}

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

class SealedStore final : public ForwardingStore {
 public:
  SealedStore(c10::intrusive_ptr<c10d::Store> inner, const std::array<unsigned char, kKey>& key)
      : ForwardingStore(std::move(inner)), key_(key) {}

  c10::intrusive_ptr<c10d::Store> clone() override { return c10::make_intrusive<SealedStore>(inner_->clone(), key_); }

 protected:
  std::vector<uint8_t> encode(const std::string& name, const std::vector<uint8_t>& value) override {
    std::vector<uint8_t> out(sizeof kMagic + kNonce + value.size() + kTag);
    std::memcpy(out.data(), kMagic, sizeof kMagic);
    unsigned char* nonce = out.data() + sizeof kMagic;
    ssl_check(RAND_bytes(nonce, kNonce), "RAND_bytes");
    CipherCtx c;
    int n = 0;
    ssl_check(EVP_EncryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, key_.data(), nonce), "EncryptInit");
    ssl_check(EVP_EncryptUpdate(c.p, nullptr, &n, bytes(name), static_cast<int>(name.size())), "EncryptUpdate");
    ssl_check(EVP_EncryptUpdate(c.p, nonce + kNonce, &n, value.data(), static_cast<int>(value.size())), "EncryptUpdate");
    ssl_check(EVP_EncryptFinal_ex(c.p, nonce + kNonce + n, &n), "EncryptFinal");
    ssl_check(EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_GET_TAG, kTag, out.data() + out.size() - kTag), "GET_TAG");
    return out;
  }

  std::vector<uint8_t> decode(const std::string& name, const std::vector<uint8_t>& value) override {
    if (value.size() < sizeof kMagic + kNonce + kTag || std::memcmp(value.data(), kMagic, sizeof kMagic) != 0) forged(name, value);
    const unsigned char* nonce = value.data() + sizeof kMagic;
    size_t length = value.size() - sizeof kMagic - kNonce - kTag;
    std::vector<uint8_t> out(length);
    CipherCtx c;
    int n = 0;
    std::vector<uint8_t> tag(value.end() - kTag, value.end());
    ssl_check(EVP_DecryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, key_.data(), nonce), "DecryptInit");
    ssl_check(EVP_DecryptUpdate(c.p, nullptr, &n, bytes(name), static_cast<int>(name.size())), "DecryptUpdate");
    ssl_check(EVP_DecryptUpdate(c.p, out.data(), &n, nonce + kNonce, static_cast<int>(length)), "DecryptUpdate");
    ssl_check(EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_SET_TAG, kTag, tag.data()), "SET_TAG");
    if (EVP_DecryptFinal_ex(c.p, out.data() + n, &n) != 1) forged(name, value);
    return out;
  }

 private:
  [[noreturn]] static void forged(const std::string& name, const std::vector<uint8_t>& value) {
    throw std::runtime_error("store key '" + name + "': the record (" + std::to_string(value.size()) +
                             " bytes) is not sealed with this job's token: it was written by a process outside the job, or by a "
                             "rank started with another TESSERA_JOB_TOKEN");
  }
  std::array<unsigned char, kKey> key_;
};

// ---- Gloo's rendezvous records --------------------------------------------------------------

// gloo::transport::tcp::Rank::bytes(): size_t hostname length, the hostname, size_t address
// length, the address (a sockaddr_storage and a sequence number, at most Gloo's kMaxByteSize),
// then one ssize_t pair identifier per rank, or none.
constexpr size_t kMaxHostname = 1024, kMaxAddress = 192;

class GlooRecordCheck final : public ForwardingStore {
 public:
  GlooRecordCheck(c10::intrusive_ptr<c10d::Store> inner, int size) : ForwardingStore(std::move(inner)), size_(size) {}

  c10::intrusive_ptr<c10d::Store> clone() override { return c10::make_intrusive<GlooRecordCheck>(inner_->clone(), size_); }

 protected:
  std::vector<uint8_t> encode(const std::string&, const std::vector<uint8_t>& value) override { return value; }

  std::vector<uint8_t> decode(const std::string& key, const std::vector<uint8_t>& value) override {
    static const std::regex record(R"(\d+/(\d+))");
    std::smatch m;
    if (!std::regex_match(key, m, record)) return value;
    auto bad = [&](const std::string& what) {
      throw std::runtime_error("Gloo rendezvous record '" + key + "' (" + std::to_string(value.size()) + " bytes) of rank " +
                               m[1].str() + " is malformed: " + what);
    };
    if (m[1].str().size() > 9 || std::stol(m[1].str()) >= size_) bad("no such rank in a group of " + std::to_string(size_));
    auto read_size = [&](size_t at, const char* what) {
      if (value.size() < at + sizeof(size_t)) bad(std::string("it ends before its ") + what + " length");
      size_t n;
      std::memcpy(&n, value.data() + at, sizeof n);
      return n;
    };
    size_t host = read_size(0, "hostname");
    if (host > kMaxHostname) bad("hostname length " + std::to_string(host) + " is over " + std::to_string(kMaxHostname));
    size_t at = sizeof(size_t) + host;
    size_t addr = read_size(at, "address");
    if (addr < sizeof(sa_family_t) || addr > kMaxAddress)
      bad("address length " + std::to_string(addr) + " is not in 2.." + std::to_string(kMaxAddress));
    at += sizeof(size_t);
    if (value.size() < at + addr) bad("its address is cut short");
    sa_family_t family;
    std::memcpy(&family, value.data() + at, sizeof family);
    if (family != AF_INET && family != AF_INET6) bad("address family " + std::to_string(family) + " is neither IPv4 nor IPv6");
    size_t rest = value.size() - at - addr;
    if (rest != 0 && rest != sizeof(ssize_t) * static_cast<size_t>(size_))
      bad(std::to_string(rest) + " bytes of pair identifiers, expected 0 or " + std::to_string(sizeof(ssize_t) * size_));
    return value;
  }

 private:
  int size_;
};

}  // namespace

c10::intrusive_ptr<c10d::Store> sealed_store(const std::string& token, c10::intrusive_ptr<c10d::Store> inner) {
  // The key is a hash of the token under a fixed label, so that a token used elsewhere (as another
  // program's secret) does not become this cipher's key as is.
  const std::string label = std::string("tessera job store v1") + '\0' + token;
  std::array<unsigned char, kKey> key{};
  unsigned int n = 0;
  ssl_check(EVP_Digest(label.data(), label.size(), key.data(), &n, EVP_sha256(), nullptr), "SHA-256");
  return c10::make_intrusive<SealedStore>(std::move(inner), key);
}

c10::intrusive_ptr<c10d::Store> gloo_record_check(c10::intrusive_ptr<c10d::Store> inner, int size) {
  return c10::make_intrusive<GlooRecordCheck>(std::move(inner), size);
}

}  // namespace tessera
