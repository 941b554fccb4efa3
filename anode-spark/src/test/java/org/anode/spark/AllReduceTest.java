package org.anode.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Function;
import org.anode.train.NonFiniteException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The gradient exchange as a trusted channel: workers in threads of this JVM, worker 0 on the
 * loopback address, strangers connecting to its port before any worker does. A stranger — silent,
 * sending garbage, announcing a rank, or running the handshake without the secret — must change
 * nothing in the sums; values that are not finite must stop the exchange.
 */
class AllReduceTest {
  private static final String HOST = InetAddress.getLoopbackAddress().getHostAddress();

  /** Worker {@code w}'s vector in round {@code r}: distinct, exactly representable values. */
  private static double[] values(int w, int r) {
    double[] v = new double[1000];
    for (int i = 0; i < v.length; i++) {
      v[i] = (w + 1) * 0.25 + i * 0.5 + r;
    }
    return v;
  }

  /**
   * Runs {@code rounds} sums on {@code workers} workers; {@code beforeWorkers} gets worker 0's port
   * and runs before any other worker connects. Returns every worker's sums.
   */
  private static List<List<double[]>> exchange(
      int workers, int rounds, ExchangeSecurity security, Consumer<Integer> beforeWorkers)
      throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(workers);
    String[] port = {null};
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    try {
      List<Future<List<double[]>>> results = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        int rank = w;
        Function<String, String[]> allGather =
            message -> {
              if (rank == 0) {
                port[0] = message;
                beforeWorkers.accept(Integer.parseInt(message));
              }
              try {
                barrier.await();
              } catch (InterruptedException | BrokenBarrierException e) {
                throw new IllegalStateException(e);
              }
              return new String[] {port[0]};
            };
        results.add(
            pool.submit(
                () -> {
                  List<double[]> sums = new ArrayList<>();
                  try (AllReduce r =
                      new AllReduce(rank, workers, HOST, security, allGather, () -> false)) {
                    for (int k = 0; k < rounds; k++) {
                      sums.add(r.sum("test values", values(rank, k)));
                    }
                  }
                  return sums;
                }));
      }
      List<List<double[]>> out = new ArrayList<>();
      for (Future<List<double[]>> f : results) {
        out.add(f.get());
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  private static void checkSums(List<List<double[]>> got, int workers, int rounds) {
    for (int k = 0; k < rounds; k++) {
      double[] expected = new double[1000];
      for (int w = 0; w < workers; w++) {
        double[] v = values(w, k);
        for (int i = 0; i < v.length; i++) {
          expected[i] += v[i];
        }
      }
      for (int w = 0; w < workers; w++) {
        assertArrayEquals(expected, got.get(w).get(k), "worker " + w + ", round " + k);
      }
    }
  }

  /** A stranger that connects first and then behaves as {@code kind} says; kept open. */
  private static List<Socket> strangers(int port, String kind) {
    List<Socket> open = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        Socket s = new Socket(HOST, port);
        open.add(s);
        DataOutputStream o = new DataOutputStream(s.getOutputStream());
        switch (kind) {
          case "silent" -> {}
          case "garbage" -> o.write(new byte[12_345]);
          case "rank" -> {
            // What the exchange took before it was authenticated: a rank, then a message.
            o.writeInt(1);
            o.writeInt(12_345);
            o.write(new byte[12_345]);
          }
          case "wrong-secret" -> {
            ExchangeSecurity other = ExchangeSecurity.generate(false);
            Thread t =
                new Thread(
                    () -> {
                      try {
                        PeerChannel.connect(s, other, 1);
                      } catch (Exception expected) {
                        // refused, as it must be
                      }
                    });
            t.setDaemon(true);
            t.start();
          }
          default -> throw new IllegalArgumentException(kind);
        }
        o.flush();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return open;
  }

  @ParameterizedTest(name = "{0} strangers first")
  @ValueSource(strings = {"silent", "garbage", "rank", "wrong-secret"})
  void strangersChangeNothing(String kind) throws Exception {
    List<Socket> held = new ArrayList<>();
    List<List<double[]>> got =
        exchange(
            3, 4, ExchangeSecurity.generate(false), port -> held.addAll(strangers(port, kind)));
    checkSums(got, 3, 4);
    for (Socket s : held) {
      s.close();
    }
  }

  @Test
  void encryptedExchangeSumsTheSame() throws Exception {
    checkSums(exchange(3, 4, ExchangeSecurity.generate(true), port -> {}), 3, 4);
  }

  @Test
  void aNonFiniteValueStopsTheExchange() throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(2);
    String[] port = {null};
    ExchangeSecurity security = ExchangeSecurity.generate(false);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> f = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        int rank = w;
        f.add(
            pool.submit(
                () -> {
                  try (AllReduce r =
                      new AllReduce(
                          rank,
                          2,
                          HOST,
                          security,
                          m -> {
                            if (rank == 0) {
                              port[0] = m;
                            }
                            try {
                              barrier.await();
                            } catch (Exception e) {
                              throw new IllegalStateException(e);
                            }
                            return new String[] {port[0]};
                          },
                          () -> false)) {
                    return r.sum("test values", new double[] {1, rank == 1 ? Double.NaN : 2});
                  }
                }));
      }
      Exception e = assertThrows(Exception.class, () -> f.get(0).get());
      assertTrue(e.getCause() instanceof NonFiniteException, e.toString());
      assertTrue(
          e.getCause().getMessage().contains("all-reduce of test values: worker 1 sent NaN"),
          e.getMessage());
    } finally {
      pool.shutdownNow();
    }
  }
}
