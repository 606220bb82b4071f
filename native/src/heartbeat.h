// The native half of a launched worker's heartbeat (src/torch/distributed/heartbeat.ts). While the
// JS thread is blocked in a wait on its peers, a helper thread tells the launcher so ('w') once the
// wait has lasted a moment; when the wait ends, the JS thread says 'p' if 'w' was said. A short wait
// (every collective on a fast network) costs no system call and wakes no one.
#pragma once

namespace tessera::heartbeat {

// Starts reporting long waits on `fd` (the pipe to the launcher), or stops with fd -1.
void set_fd(int fd);
// Around a blocking wait on the other ranks, on the JS thread.
void wait_begin();
void wait_end();

}  // namespace tessera::heartbeat
