/*
 * netlab_delay: holds every packet that iptables hands to NFQUEUE queue Q for
 * D milliseconds, then accepts it. The lab's stand-in for `tc netem delay`,
 * which this kernel lacks. One queue, one fixed delay, so packets leave in
 * the order they came (a FIFO ring is enough).
 *
 * Usage: netlab_delay QUEUE_NUM DELAY_MS
 * Prints "ready" on stdout once the queue is bound; exits on SIGTERM/SIGINT.
 * Build: cc -O2 -o netlab_delay netlab_delay.c -lnetfilter_queue
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RING_SIZE (1u << 16) /* packets held at once; more are dropped, as a full router queue would */
#define QUEUE_MAXLEN 65536u
#define RCVBUF_BYTES (8 * 1024 * 1024)

struct held {
  uint32_t id;
  int64_t release_ns;
};

static struct held ring[RING_SIZE];
static uint32_t head, tail; /* head: oldest held packet; tail: next free slot */
static int64_t delay_ns;
static volatile sig_atomic_t stop;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (tail - head >= RING_SIZE) return nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
  ring[tail % RING_SIZE].id = id;
  ring[tail % RING_SIZE].release_ns = now_ns() + delay_ns;
  tail++;
  return 0;
}

static void release_due(struct nfq_q_handle *qh) {
  int64_t now = now_ns();
  while (head != tail && ring[head % RING_SIZE].release_ns <= now) {
    if (nfq_set_verdict(qh, ring[head % RING_SIZE].id, NF_ACCEPT, 0, NULL) < 0) perror("nfq_set_verdict");
    head++;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s QUEUE_NUM DELAY_MS\n", argv[0]);
    return 2;
  }
  int queue_num = atoi(argv[1]);
  delay_ns = (int64_t)atol(argv[2]) * 1000000;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct nfq_handle *h = nfq_open();
  if (!h) {
    perror("nfq_open");
    return 1;
  }
  struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue_num, &on_packet, NULL);
  if (!qh) {
    perror("nfq_create_queue");
    return 1;
  }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
    perror("nfq_set_mode");
    return 1;
  }
  if (nfq_set_queue_maxlen(qh, QUEUE_MAXLEN) < 0) perror("nfq_set_queue_maxlen");

  int fd = nfq_fd(h);
  int rcvbuf = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) perror("SO_RCVBUFFORCE");
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

  printf("ready\n");
  fflush(stdout);

  char buf[65536] __attribute__((aligned));
  while (!stop) {
    int timeout_ms = -1;
    if (head != tail) {
      int64_t wait = ring[head % RING_SIZE].release_ns - now_ns();
      timeout_ms = wait <= 0 ? 0 : (int)((wait + 999999) / 1000000);
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      perror("poll");
      break;
    }
    if (n > 0 && (pfd.revents & POLLIN)) {
      /* Drain everything queued now, so a burst is stamped on arrival, not late. */
      for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (len < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) perror("recv");
          break;
        }
        nfq_handle_packet(h, buf, (int)len);
      }
    }
    release_due(qh);
  }
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
