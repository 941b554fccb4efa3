package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/** The pool of freed native blocks: reuse by type and length, its byte limit, and a real step. */
class NativeBlockPoolTest {

  @Test
  void aFreedBlockServesTheNextRequestOfItsTypeAndLength() {
    NativeBlockPool pool = new NativeBlockPool(1 << 20);
    Pointer a = pool.take(DType.FLOAT32, 1000);
    long address = a.address();
    pool.give(a);
    assertEquals(4000, pool.pooledBytes());
    Pointer other = pool.take(DType.FLOAT64, 1000);
    Pointer shorter = pool.take(DType.FLOAT32, 999);
    assertEquals(3, pool.freshBlocks(), "another type or length is a new block");
    Pointer again = pool.take(DType.FLOAT32, 1000);
    assertEquals(address, again.address(), "the freed block, reused");
    assertEquals(3, pool.freshBlocks());
    assertEquals(0, pool.pooledBytes());
    pool.give(other);
    pool.give(shorter);
    pool.give(again);
    pool.clear();
    assertEquals(0, pool.pooledBytes());
    assertTrue(again.isNull() && other.isNull(), "cleared blocks are freed");
  }

  @Test
  void theLimitFreesTheLeastRecentlyUsedLengthsFirst() {
    NativeBlockPool pool = new NativeBlockPool(10_000);
    Pointer a = pool.take(DType.FLOAT32, 1000); // 4,000 bytes
    Pointer b = pool.take(DType.FLOAT32, 1001);
    Pointer c = pool.take(DType.FLOAT32, 1002);
    pool.give(a);
    pool.give(b);
    assertEquals(8004, pool.pooledBytes());
    pool.give(c); // 12,012 > 10,000: a's length, the least recently used, goes
    assertTrue(a.isNull(), "the eldest length's block is freed");
    assertTrue(!b.isNull() && !c.isNull());
    assertEquals(8012, pool.pooledBytes());
    Pointer big = pool.take(DType.FLOAT64, 2000); // 16,000 bytes: never pooled
    pool.give(big);
    assertTrue(big.isNull());
    assertEquals(8012, pool.pooledBytes());
    pool.clear();
  }

  @Test
  void limitZeroFreesEveryBlockAtOnce() {
    NativeBlockPool pool = new NativeBlockPool(0);
    Pointer a = pool.take(DType.FLOAT32, 10);
    pool.give(a);
    assertTrue(a.isNull());
    assertEquals(0, pool.pooledBytes());
    pool.take(DType.FLOAT32, 10).close();
    assertEquals(2, pool.freshBlocks(), "nothing kept for the second request");
    assertThrows(IllegalArgumentException.class, () -> new NativeBlockPool(-1));
  }

  /**
   * A convolution, its ReLU, the Euler update and both gradients, twice: the second time every
   * block comes from the pool, and pooled bytes are not counted as live.
   */
  @Test
  void aRepeatedStepAllocatesNoFreshBlocks() {
    Backend be = Backends.get("nd4j");
    Shape x = Shape.of(4, 16, 8, 8);
    long[] fresh = new long[3];
    for (int round = 0; round < 3; round++) {
      long liveBefore = LiveMemory.currentBytes();
      try (TensorScope scope = TensorScope.open()) {
        Tensor z = SamePrecisionInputs.random(be, x, DType.FLOAT32, 1);
        Tensor w = SamePrecisionInputs.random(be, Shape.of(16, 16, 3, 3), DType.FLOAT32, 2);
        Tensor f = be.relu(be.conv2d(z, w, null, Conv2dSpec.of(1, 1)));
        Tensor next = be.addScaled(z, new double[] {0.5}, java.util.List.of(f));
        Backend.Conv2dGradients g =
            be.conv2dBackward(z, w, be.mulScalar(next, 2.0), Conv2dSpec.of(1, 1), true, true);
        assertEquals(x, g.input().shape());
      }
      assertEquals(liveBefore, LiveMemory.currentBytes(), "nothing live after the scope");
      fresh[round] = Nd4jMemory.POOL.freshBlocks();
    }
    assertEquals(fresh[1], fresh[2], "the third round allocated nothing new");
    assertTrue(Nd4jMemory.POOL.pooledBytes() > 0);
  }

  /**
   * Every block starts on a 64-byte boundary, whatever its type and length and whether it is new or
   * reused: oneDNN's AVX-512 Winograd kernels store to their output with {@code vmovntps zmm},
   * which faults on anything less (the SIGSEGV of ODE-ResNet18 at width 1).
   */
  @Test
  void everyBlockIs64ByteAligned() {
    NativeBlockPool pool = new NativeBlockPool(1 << 24);
    java.util.List<Pointer> blocks = new java.util.ArrayList<>();
    for (int round = 0; round < 2; round++) {
      for (long n = 1; n < 70_000; n = n * 3 + 1) {
        for (DType dtype : DType.values()) {
          Pointer p = pool.take(dtype, n);
          assertEquals(0, p.address() % 64, dtype + " block of " + n + " at " + p.address());
          assertEquals(n, p.capacity());
          blocks.add(p);
        }
      }
      blocks.forEach(pool::give); // the second round takes them back from the pool
      blocks.clear();
    }
    pool.clear();
  }

  /**
   * An array that does not start on a 64-byte boundary (here a view one element in) is refused with
   * an exception where it would become a pointer for oneDNN, instead of reaching a kernel.
   */
  @Test
  void oneDnnRefusesAnUnalignedArray() {
    Nd4jMemory.Block b = Nd4jMemory.allocate(DType.FLOAT32, Shape.of(64));
    try {
      org.nd4j.linalg.api.ndarray.INDArray aligned = b.array();
      assertEquals(0, OneDnn.address(aligned).address() % 64);
      org.nd4j.linalg.api.ndarray.INDArray view =
          aligned.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 64));
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> OneDnn.address(view));
      assertTrue(e.getMessage().contains("64-byte boundary"), e.getMessage());
    } finally {
      b.free();
    }
  }
}
