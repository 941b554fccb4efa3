package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.anode.api.Backends;
import org.junit.jupiter.api.Test;

/**
 * Backend choice by classpath and setting, tested for real: each case runs {@link DiscoveryMain} in
 * a fresh JVM with its own class path and environment (no mocked ServiceLoader).
 */
class BackendDiscoveryTest {

  record Run(int exit, String out) {}

  static Run fork(List<String> classPath, Map<String, String> env, String... jvmArgs)
      throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(Arrays.asList(jvmArgs));
    cmd.add("-cp");
    cmd.add(String.join(File.pathSeparator, classPath));
    cmd.add(DiscoveryMain.class.getName());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove(Backends.ENV);
    pb.environment().remove("OMP_NUM_THREADS"); // the thread count must come from anode.threads
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Run(p.waitFor(), out);
  }

  static List<String> classPath() {
    return Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator));
  }

  static boolean isNd4j(String entry) {
    return entry.contains("nd4j");
  }

  static boolean isDjl(String entry) {
    return entry.contains("/ai/djl/") || entry.contains("backend-djl");
  }

  static boolean isTensorFlow(String entry) {
    return entry.contains("/org/tensorflow/") || entry.contains("backend-tensorflow");
  }

  /** The test class path without the entries {@code drop} selects. */
  static List<String> without(Predicate<String> drop) {
    return classPath().stream().filter(e -> !drop.test(e)).collect(Collectors.toList());
  }

  @Test
  void singleBackendOnClassPathIsChosenWithoutSetting() throws Exception {
    Run nd4j = fork(without(e -> isDjl(e) || isTensorFlow(e)), Map.of(), "-Danode.threads=1");
    assertEquals(0, nd4j.exit(), nd4j.out());
    assertTrue(nd4j.out().contains("backend=nd4j threads=1"), nd4j.out());
    Run djl = fork(without(e -> isNd4j(e) || isTensorFlow(e)), Map.of(), "-Danode.threads=1");
    assertEquals(0, djl.exit(), djl.out());
    assertTrue(djl.out().contains("backend=djl threads=1"), djl.out());
    Run tf = fork(without(e -> isNd4j(e) || isDjl(e)), Map.of(), "-Danode.threads=1");
    assertEquals(0, tf.exit(), tf.out());
    assertTrue(tf.out().contains("backend=tensorflow threads=1"), tf.out());
  }

  @Test
  void withSeveralBackendsRankDecidesUnlessOneIsNamed() throws Exception {
    assertEquals("nd4j", Backends.get().name());
    Run byRank = fork(classPath(), Map.of());
    assertTrue(byRank.out().contains("backend=nd4j"), byRank.out());
    Run next = fork(without(BackendDiscoveryTest::isNd4j), Map.of());
    assertTrue(next.out().contains("backend=tensorflow"), "tensorflow outranks djl: " + next.out());
    Run byEnv = fork(classPath(), Map.of(Backends.ENV, "djl"));
    assertTrue(byEnv.out().contains("backend=djl"), byEnv.out());
    Run byProperty = fork(classPath(), Map.of(Backends.ENV, "nd4j"), "-Danode.backend=djl");
    assertTrue(byProperty.out().contains("backend=djl"), "the property wins: " + byProperty.out());
  }

  @Test
  void environmentVariableNamingAnUnknownBackendListsWhatWasFound() throws Exception {
    Run r = fork(classPath(), Map.of(Backends.ENV, "tensorflowz"));
    assertEquals(3, r.exit(), r.out());
    assertTrue(r.out().contains("Unknown backend 'tensorflowz'"), r.out());
    assertTrue(r.out().contains("environment variable ANODE_BACKEND"), r.out());
    assertTrue(r.out().contains("nd4j (rank 100, available)"), r.out());
    assertTrue(r.out().contains("tensorflow (rank 90, available)"), r.out());
    assertTrue(r.out().contains("djl (rank 80, available)"), r.out());
  }

  @Test
  void systemPropertyNamingAnUnknownBackendFails() throws Exception {
    Run r = fork(classPath(), Map.of(), "-Danode.backend=bogus");
    assertEquals(3, r.exit(), r.out());
    assertTrue(r.out().contains("Unknown backend 'bogus' (from system property anode.backend)"));
  }

  @Test
  void noBackendOnClassPathSaysWhatToAdd() throws Exception {
    Run r = fork(without(e -> isNd4j(e) || isDjl(e) || isTensorFlow(e)), Map.of());
    assertEquals(3, r.exit(), r.out());
    assertTrue(r.out().contains("No anode backend found on the classpath"), r.out());
    assertTrue(r.out().contains("anode-backend-nd4j"), r.out());
  }
}
