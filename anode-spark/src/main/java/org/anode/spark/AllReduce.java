package org.anode.spark;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

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
  private static final int POLL_MILLIS = 1000;
  private final int rank;
  private final Socket[] peers; // worker 0: one per other worker, by rank; others: [worker 0]
  private final DataInputStream[] in;
  private final DataOutputStream[] out;
  private final BooleanSupplier killed;
  private long bytesSent;
  private long nanos;

  /**
   * Connects the workers: worker 0 listens on a free port and announces it through {@code
   * allGather}; the others connect to {@code rootHost} at that port and say their rank. {@code
   * killed} says when the task was killed (a read that waits checks it every second).
   */
  AllReduce(
      int rank,
      int workers,
      String rootHost,
      Function<String, String[]> allGather,
      BooleanSupplier killed)
      throws IOException {
    this.rank = rank;
    this.killed = killed;
    int n = rank == 0 ? workers - 1 : 1;
    peers = new Socket[n];
    in = new DataInputStream[n];
    out = new DataOutputStream[n];
    if (rank == 0) {
      try (ServerSocket server = new ServerSocket()) {
        server.bind(new InetSocketAddress(0));
        server.setSoTimeout(POLL_MILLIS);
        allGather.apply(Integer.toString(server.getLocalPort()));
        for (int k = 0; k < n; k++) {
          Socket s = accept(server);
          DataInputStream i = stream(s);
          int r = readInt(i);
          if (r < 1 || r >= workers || peers[r - 1] != null) {
            s.close();
            throw new IOException("all-reduce: a peer announced rank " + r + " of " + workers);
          }
          peers[r - 1] = s;
          in[r - 1] = i;
          out[r - 1] = output(s);
        }
      }
    } else {
      int port = Integer.parseInt(allGather.apply("")[0]);
      Socket s = new Socket(rootHost, port);
      s.setTcpNoDelay(true);
      s.setSoTimeout(POLL_MILLIS);
      peers[0] = s;
      in[0] = stream(s);
      out[0] = output(s);
      out[0].writeInt(rank);
      out[0].flush();
    }
  }

  private Socket accept(ServerSocket server) throws IOException {
    while (true) {
      try {
        Socket s = server.accept();
        s.setTcpNoDelay(true);
        s.setSoTimeout(POLL_MILLIS);
        return s;
      } catch (SocketTimeoutException e) {
        checkKilled();
      }
    }
  }

  private static DataInputStream stream(Socket s) throws IOException {
    return new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
  }

  private static DataOutputStream output(Socket s) throws IOException {
    return new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 1 << 16));
  }

  /** The element-wise sum of {@code values} over all workers, added in worker order. */
  double[] sum(double[] values) {
    return sum(values, 0);
  }

  /**
   * As {@link #sum(double[])}, the first {@code floats} values travelling as float32 (a float32
   * model's gradients: half the bytes; the float32 sum rounds the same either way), the rest as
   * float64.
   */
  double[] sum(double[] values, int floats) {
    long t0 = System.nanoTime();
    int bytes = 4 * floats + 8 * (values.length - floats);
    byte[] mine = encode(values, floats, bytes);
    try {
      byte[] result;
      if (rank == 0) {
        double[] sum = new double[values.length];
        add(sum, mine, floats);
        byte[] buffer = new byte[bytes];
        for (DataInputStream i : in) {
          readMessage(i, buffer);
          add(sum, buffer, floats);
        }
        result = encode(sum, floats, bytes);
        for (DataOutputStream o : out) {
          write(o, result);
        }
      } else {
        write(out[0], mine);
        result = new byte[bytes];
        readMessage(in[0], result);
      }
      double[] sum = new double[values.length];
      add(sum, result, floats);
      nanos += System.nanoTime() - t0;
      return sum;
    } catch (IOException e) {
      throw new UncheckedIOException("all-reduce (worker " + rank + "): " + e.getMessage(), e);
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

  private static void add(double[] sum, byte[] message, int floats) {
    ByteBuffer b = ByteBuffer.wrap(message);
    for (int i = 0; i < floats; i++) {
      sum[i] += b.getFloat();
    }
    for (int i = floats; i < sum.length; i++) {
      sum[i] += b.getDouble();
    }
  }

  private void write(DataOutputStream o, byte[] message) throws IOException {
    o.writeInt(message.length);
    o.write(message);
    o.flush();
    bytesSent += 4 + message.length;
  }

  private void readMessage(DataInputStream i, byte[] into) throws IOException {
    int length = readInt(i);
    if (length != into.length) {
      throw new IOException(
          "a worker sent "
              + length
              + " bytes, this one expects "
              + into.length
              + " (replicas differ in their parameters)");
    }
    readFully(i, into);
  }

  private int readInt(DataInputStream i) throws IOException {
    byte[] b = new byte[4];
    readFully(i, b);
    return ByteBuffer.wrap(b).getInt();
  }

  /** Reads all of {@code into}, checking every second whether the task was killed meanwhile. */
  private void readFully(InputStream i, byte[] into) throws IOException {
    int at = 0;
    while (at < into.length) {
      try {
        int n = i.read(into, at, into.length - at);
        if (n < 0) {
          throw new IOException("a peer closed the connection (its task failed or was killed)");
        }
        at += n;
      } catch (SocketTimeoutException e) {
        checkKilled();
      }
    }
  }

  private void checkKilled() throws IOException {
    if (killed.getAsBoolean()) {
      throw new IOException("the task was killed");
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
    for (Socket s : peers) {
      if (s != null) {
        try {
          s.close();
        } catch (IOException e) {
          // closing: nothing left to do
        }
      }
    }
  }
}
