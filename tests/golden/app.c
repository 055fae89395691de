/* The binary of the golden pipeline test (tests/golden/README.md): only its symbols matter,
 * so it is built freestanding and tiny. Rebuilt by make_golden.sh. */
#define NOINLINE __attribute__((noinline, used))

volatile int sink;

NOINLINE void checksum(void) { for (int i = 0; i < 64; ++i) sink += i; }
NOINLINE void deflate_block(void) { for (int i = 0; i < 64; ++i) sink ^= i; }
NOINLINE void compress(void) { deflate_block(); checksum(); }
NOINLINE void parse_header(void) { sink += 3; }
NOINLINE void parse_request(void) { parse_header(); sink += 1; }
NOINLINE void handle(void) { parse_request(); compress(); }
NOINLINE void wait_for_work(void) { sink += 7; }
NOINLINE void worker_loop(void) { wait_for_work(); handle(); }
NOINLINE void serve(void) { for (;;) worker_loop(); }

void _start(void) { serve(); }
