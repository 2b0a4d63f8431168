#ifndef LIVESFU_CSIMULATION_H
#define LIVESFU_CSIMULATION_H
#include <stdint.h>

/// The deterministic simulation's hold on what OpenSSL reads behind the room layer's back,
/// on the calling thread only (other threads of the test process see the real clock and
/// OpenSSL's own random generator):
/// - the wall clock: `gettimeofday` and `time` are defined in the test binary, so libssl's
///   DTLS retransmission timer and the certificates' validity read the virtual clock;
/// - randomness: a RAND_METHOD (installed once) draws from a seeded generator, so key
///   exchanges, signatures and therefore every DTLS datagram's size replay from the seed.
void lsfu_sim_enter(uint64_t seed, int64_t realtime_ns);
void lsfu_sim_set_time(int64_t realtime_ns);
void lsfu_sim_leave(void);
/// 1 if OpenSSL's timer and randomness follow the simulation on this thread (the symbols
/// were bound to this binary's definitions): checked by the harness, never assumed.
int lsfu_sim_hooks_active(void);
#endif
