package org.anode.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every damaged checkpoint is "<path>: corrupt checkpoint (<reason>)". */
class CheckpointFormatTest {
  @TempDir Path tmp;
  final Backend be = Backends.get();
  TensorScope scope;

  @BeforeEach
  void open() {
    scope = TensorScope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private Checkpoint sample() {
    Map<String, Tensor> model = new LinkedHashMap<>();
    model.put("w", be.fromArray(new float[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3)));
    model.put("b", be.fromArray(new double[] {0.5}, Shape.of(1)));
    return new Checkpoint(3, 42, Map.of("optimizer", "sgd"), model, Map.of(), Map.of("adam.t", 7L));
  }

  private void assertCorrupt(Path p, String reason) {
    IOException e = assertThrows(IOException.class, () -> Checkpoint.load(p, be));
    assertTrue(
        e.getMessage().startsWith(p + ": corrupt checkpoint (") && e.getMessage().contains(reason),
        e.getMessage());
  }

  /** A format-1 file (no CRC), as earlier versions wrote it, with one tensor of given header. */
  private Path v1(String name, int epoch, int rank, int[] dims, float[] values, byte[] trailing)
      throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      out.writeUTF("anode-checkpoint-1");
      out.writeInt(epoch);
      out.writeLong(1);
      out.writeInt(1);
      out.writeUTF("w");
      out.writeUTF("FLOAT32");
      out.writeInt(rank);
      for (int d : dims) {
        out.writeInt(d);
      }
      for (float v : values) {
        out.writeFloat(v);
      }
      out.writeInt(0); // optimizer tensors
      out.writeInt(0); // counters
      out.write(trailing);
    }
    Path p = tmp.resolve(name);
    Files.write(p, b.toByteArray());
    return p;
  }

  @Test
  void roundTripKeepsEverything() throws Exception {
    Path p = tmp.resolve("ok.ckpt");
    sample().save(p);
    Checkpoint c = Checkpoint.load(p, be);
    assertEquals(3, c.epoch());
    assertEquals(42, c.seed());
    assertEquals(Map.of("optimizer", "sgd"), c.config());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, c.model().get("w").toFloatArray());
    assertEquals(7L, c.counters().get("adam.t"));
    assertFalse(Files.exists(Checkpoint.temporaryFile(p)));
  }

  @Test
  void formatOneFilesStillLoad() throws Exception {
    Path p = v1("v1.ckpt", 2, 1, new int[] {2}, new float[] {1, 2}, new byte[0]);
    assertEquals(2, Checkpoint.load(p, be).epoch());
  }

  @Test
  void damagedHeadersAreCorrupt() throws Exception {
    assertCorrupt(
        v1("rank.ckpt", 0, 1_000_000, new int[0], new float[0], new byte[0]), "rank 1000000");
    assertCorrupt(v1("neg.ckpt", 0, 1, new int[] {-5}, new float[0], new byte[0]), "negative");
    assertCorrupt(
        v1("huge.ckpt", 0, 2, new int[] {100000, 100000}, new float[0], new byte[0]),
        "exceed the file");
    assertCorrupt(v1("epoch.ckpt", -4, 1, new int[] {1}, new float[] {1}, new byte[0]), "epoch -4");
    assertCorrupt(
        v1("tail.ckpt", 0, 1, new int[] {1}, new float[] {1}, new byte[] {1, 2, 3}),
        "3 unexpected bytes");
    assertCorrupt(
        v1("inf.ckpt", 0, 1, new int[] {2}, new float[] {1, Float.POSITIVE_INFINITY}, new byte[0]),
        "w: element 1 is Infinity");
    Path garbage = tmp.resolve("garbage.ckpt");
    Files.write(garbage, new byte[] {0, 3, 'x', 'y', 'z'});
    assertCorrupt(garbage, "not an anode checkpoint");
  }

  @Test
  void changedOrCutPayloadsAreCaught() throws Exception {
    Path p = tmp.resolve("ok.ckpt");
    sample().save(p);
    byte[] bytes = Files.readAllBytes(p);
    byte[] flipped = bytes.clone();
    flipped[flipped.length - 20] ^= 0x10;
    Path f = tmp.resolve("flipped.ckpt");
    Files.write(f, flipped);
    assertCorrupt(f, "CRC mismatch");
    Path cut = tmp.resolve("cut.ckpt");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length - 9));
    assertCorrupt(cut, "the header says");
  }

  @Test
  void leftoversOfInterruptedSavesAreRemoved() throws Exception {
    Path p = tmp.resolve("run.ckpt");
    Files.writeString(tmp.resolve("run.ckpt.tmp"), "partial");
    Files.writeString(tmp.resolve("run.ckpt8412345.tmp"), "partial (old random name)");
    Files.writeString(tmp.resolve("run.ckpt-notes.tmp"), "not ours");
    assertEquals(2, Checkpoint.removeLeftovers(p));
    assertTrue(Files.exists(tmp.resolve("run.ckpt-notes.tmp")));
  }

  @Test
  void aLockIsExclusiveUntilReleased() throws Exception {
    Path p = tmp.resolve("run.ckpt");
    try (CheckpointLock first = CheckpointLock.acquire(p)) {
      IOException e = assertThrows(IOException.class, () -> CheckpointLock.acquire(p));
      assertTrue(e.getMessage().startsWith(p + ": in use by another anode run"), e.getMessage());
    }
    CheckpointLock.acquire(p).close();
  }
}
