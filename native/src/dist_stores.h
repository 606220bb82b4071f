// Stores that stand between a c10d store and its readers: one seals every value with the job's
// token (a process outside the job can neither read nor forge a record), one checks Gloo's
// rendezvous records before Gloo parses them (Gloo trusts their lengths).
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <string>

namespace tessera {

// A store whose values are AES-256-GCM sealed under a key derived from `token`, the key name bound
// as associated data; get() of a value not sealed so throws an error naming the key. Counters
// (add) and the key names themselves are not sealed.
c10::intrusive_ptr<c10d::Store> sealed_store(const std::string& token, c10::intrusive_ptr<c10d::Store> inner);

// A store that checks each Gloo TCP rendezvous record (key "<device>/<rank>") of a group of
// `size` ranks against Gloo's layout and bounds before returning it.
c10::intrusive_ptr<c10d::Store> gloo_record_check(c10::intrusive_ptr<c10d::Store> inner, int size);

}  // namespace tessera
