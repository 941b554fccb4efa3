package org.anode.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.anode.train.NonFiniteException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sum over the workers of a barrier stage, every worker receiving the same result, over TCP
 * through worker 0: each worker sends its vector to worker 0, which adds all of them in worker
 * order and sends the sum back, so the sums are equal to the bit on every replica. Values travel as
 * their exact IEEE 754 bits, float32 where the model is float32.
 *
 * <p>Why not {@code BarrierTaskContext.allGather} itself: Spark 4.0's barrier sync waits for the
 * coordinator's reply in a loop that sleeps one second between checks, so every call costs up to a
 * second whatever the message (measured here: 61% of a step's time). The barrier stage is still
 * what launches the workers together, tells each where worker 0 runs ({@code getTaskInfos}), and
 * carries the one {@code allGather} per epoch that hands out worker 0's port; Spark also fails and
 * retries the stage as a whole when any worker dies.
 *
 * <p>Volume per call for N workers and P values of b bytes: each worker sends and receives b·P;
 * worker 0 receives and sends (N−1)·b·P. A ring all-reduce would move 2·b·P·(N−1)/N per worker and
 * spread worker 0's load; with the few workers of a CPU job the star is simpler and exact in order.
 */
final class AllReduce implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AllReduce.class);
  private static final int POLL_MILLIS = 1000;

  /** Connections still proving themselves at once; more are closed unread. */
  private static final int MAX_PENDING = 32;

  private final int rank;
  private final PeerChannel[] peers; // worker 0: one per other worker, by rank − 1; others: [0]
  private final BooleanSupplier killed;
  private final long waitMillis;
  private long bytesSent;
  private long nanos;

  /**
   * Connects the workers: worker 0 listens on a free port of {@code rootHost} (the address Spark
   * gave its task, not every interface) and announces it through {@code allGather}; the others
   * connect and prove they hold the run's secret ({@link PeerChannel}). Connections that fail the
   * handshake — strangers, silent or not — are dropped without disturbing the run; each is handled
   * on its own thread so that a silent one cannot hold up the workers. {@code killed} says when the
   * task was killed (waits check it every second).
   */
  AllReduce(
      int rank,
      int workers,
      String rootHost,
      ExchangeSecurity security,
      Function<String, String[]> allGather,
      BooleanSupplier killed)
      throws IOException {
    this.rank = rank;
    this.killed = killed;
    this.waitMillis = security.waitMillis();
    peers = new PeerChannel[rank == 0 ? workers - 1 : 1];
    if (rank == 0) {
      acceptPeers(workers, rootHost, security, allGather);
    } else {
      int port = Integer.parseInt(allGather.apply("")[0]);
      Socket s = new Socket();
      try {
        s.connect(new InetSocketAddress(rootHost, port), security.handshakeMillis());
        peers[0] = PeerChannel.connect(s, security, rank);
      } catch (IOException | GeneralSecurityException e) {
        s.close();
        throw new IOException(
            "all-reduce: worker "
                + rank
                + " could not join worker 0 at "
                + rootHost
                + ":"
                + port
                + " ("
                + e.getMessage()
                + ")",
            e);
      }
    }
  }

  private void acceptPeers(
      int workers, String rootHost, ExchangeSecurity security, Function<String, String[]> allGather)
      throws IOException {
    BlockingQueue<PeerChannel> proven = new LinkedBlockingQueue<>();
    Set<Socket> pending = ConcurrentHashMap.newKeySet();
    ExecutorService handshakes =
        Executors.newCachedThreadPool(DaemonThreads.named("anode-exchange-handshake"));
    try (ServerSocket server = new ServerSocket()) {
      server.bind(new InetSocketAddress(InetAddress.getByName(rootHost), 0));
      server.setSoTimeout(POLL_MILLIS);
      allGather.apply(Integer.toString(server.getLocalPort()));
      long deadline = System.nanoTime() + waitMillis * 1_000_000L;
      int joined = 0;
      while (joined < workers - 1) {
        try {
          Socket s = server.accept();
          if (pending.size() >= MAX_PENDING) {
            s.close();
          } else {
            pending.add(s);
            handshakes.execute(() -> prove(s, security, workers, proven, pending));
          }
        } catch (SocketTimeoutException e) {
          if (killed.getAsBoolean()) {
            throw new IOException("the task was killed");
          }
          if (System.nanoTime() > deadline) {
            throw new IOException(
                "all-reduce: " + joined + " of " + (workers - 1) + " workers joined worker 0");
          }
        }
        for (PeerChannel c = proven.poll(); c != null; c = proven.poll()) {
          if (peers[c.rank() - 1] != null) {
            LOG.warn("all-reduce: a second peer proved rank {}; dropped", c.rank());
            c.close();
          } else {
            peers[c.rank() - 1] = c;
            joined++;
          }
        }
      }
    } finally {
      handshakes.shutdownNow();
      for (Socket s : pending) {
        s.close();
      }
    }
  }

  /** Runs worker 0's side of a handshake; a socket that fails it is closed and forgotten. */
  private static void prove(
      Socket s,
      ExchangeSecurity security,
      int workers,
      BlockingQueue<PeerChannel> proven,
      Set<Socket> pending) {
    try {
      proven.add(PeerChannel.accept(s, security, workers));
    } catch (IOException | GeneralSecurityException e) {
      LOG.warn(
          "all-reduce: dropped a connection from {} ({})",
          s.getRemoteSocketAddress(),
          e.toString());
      try {
        s.close();
      } catch (IOException ignored) {
        // dropping it
      }
    } finally {
      pending.remove(s);
    }
  }

  /**
   * The element-wise sum of {@code values} over all workers, added in worker order; {@code what}
   * names the values in errors ("gradients", "the test loss").
   */
  double[] sum(String what, double[] values) {
    return sum(what, values, 0);
  }

  /**
   * As {@link #sum(String, double[])}, the first {@code floats} values travelling as float32 (a
   * float32 model's gradients: half the bytes; the float32 sum rounds the same either way), the
   * rest as float64.
   */
  double[] sum(String what, double[] values, int floats) {
    long t0 = System.nanoTime();
    int bytes = 4 * floats + 8 * (values.length - floats);
    byte[] mine = encode(values, floats, bytes);
    try {
      byte[] result;
      if (rank == 0) {
        double[] sum = new double[values.length];
        add(sum, mine, floats, 0, what);
        byte[] buffer = new byte[bytes];
        for (PeerChannel p : peers) {
          p.receive(buffer, killed, waitMillis);
          add(sum, buffer, floats, p.rank(), what);
        }
        result = encode(sum, floats, bytes);
        for (PeerChannel p : peers) {
          bytesSent += p.send(result);
        }
      } else {
        bytesSent += peers[0].send(mine);
        result = new byte[bytes];
        peers[0].receive(result, killed, waitMillis);
      }
      double[] sum = new double[values.length];
      add(sum, result, floats, 0, what);
      nanos += System.nanoTime() - t0;
      return sum;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "all-reduce of " + what + " (worker " + rank + "): " + e.getMessage(), e);
    }
  }

  private static byte[] encode(double[] values, int floats, int bytes) {
    ByteBuffer b = ByteBuffer.allocate(bytes);
    for (int i = 0; i < floats; i++) {
      b.putFloat((float) values[i]);
    }
    for (int i = floats; i < values.length; i++) {
      b.putDouble(values[i]);
    }
    return b.array();
  }

  /**
   * Adds a message's values to {@code sum}; a value that is not finite stops the run (a replica
   * that diverged, or one that is not what it claims): worker {@code from} sent it.
   */
  private static void add(double[] sum, byte[] message, int floats, int from, String what) {
    ByteBuffer b = ByteBuffer.wrap(message);
    for (int i = 0; i < sum.length; i++) {
      double v = i < floats ? b.getFloat() : b.getDouble();
      if (!Double.isFinite(v)) {
        throw new NonFiniteException(
            "all-reduce of "
                + what
                + ": worker "
                + from
                + " sent "
                + v
                + " (value "
                + (i + 1)
                + " of "
                + sum.length
                + ")");
      }
      sum[i] += v;
    }
  }

  /** Bytes this worker has sent. */
  long bytesSent() {
    return bytesSent;
  }

  /** Time spent in {@link #sum}, waiting for the slowest worker included. */
  double seconds() {
    return nanos / 1e9;
  }

  @Override
  public void close() {
    for (PeerChannel p : peers) {
      if (p != null) {
        p.close();
      }
    }
  }
}
