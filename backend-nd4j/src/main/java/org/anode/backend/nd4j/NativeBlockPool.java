package org.anode.backend.nd4j;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.anode.api.DType;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Freed native blocks kept for reuse, by element type and exact length, up to a byte limit: the
 * memory a training step frees is the memory the next step asks for, block for block.
 *
 * <p>Why: without it every block goes back to glibc's malloc, which gives large freed regions back
 * to the kernel (its trim and mmap thresholds) and faults them in again, zeroed, page by page on
 * the next step. An ND4J ODE-ResNet ANODE step spent a third of its time so (page faults and the
 * hypervisor's share of them; measurements: docs/fused-kernels.md), and ran at the speed it has
 * here only when a bigger run before it had left glibc's heap large by chance. PyTorch's CUDA
 * allocator caches freed blocks for the same reason.
 *
 * <p>Pooled blocks are not live: {@link org.anode.api.LiveMemory} counts tensors and scratch, not
 * what is kept here (PyTorch's "reserved" against "allocated"). The pool holds at most {@link
 * #LIMIT} bytes (system property {@value #PROPERTY}; 0 turns it off); past that it frees the blocks
 * of the lengths least recently used. Every block starts on a {@value AlignedMemory#ALIGNMENT}-byte
 * boundary ({@link AlignedMemory}: oneDNN's kernels require it). Thread-safe: Spark replicas share
 * it.
 */
final class NativeBlockPool {
  static final String PROPERTY = "anode.nd4j.poolBytes";

  /** The default limit: 2 GiB, several times the largest training step measured here. */
  static final long LIMIT = Long.getLong(PROPERTY, 2L << 30);

  private record Key(DType dtype, long elements) {
    long bytes() {
      return elements * dtype.byteSize();
    }
  }

  private final long limit;

  /** The free blocks by length, least recently used length first. */
  private final LinkedHashMap<Key, ArrayDeque<Pointer>> free = new LinkedHashMap<>(16, 0.75f, true);

  private long pooledBytes;
  private long freshBlocks;

  NativeBlockPool(long limit) {
    if (limit < 0) {
      throw new IllegalArgumentException(PROPERTY + " must be 0 or more bytes, got " + limit);
    }
    this.limit = limit;
  }

  /** A block of {@code elements} values of {@code dtype}: a pooled one, else newly allocated. */
  synchronized Pointer take(DType dtype, long elements) {
    Key key = new Key(dtype, elements);
    ArrayDeque<Pointer> blocks = free.get(key);
    if (blocks != null && !blocks.isEmpty()) {
      pooledBytes -= key.bytes();
      return blocks.pop();
    }
    freshBlocks++;
    return AlignedMemory.allocate(dtype, elements);
  }

  /**
   * Takes back a block from {@link #take} that nobody reads any more: kept for reuse, or freed when
   * it does not fit under the limit even after the least recently used lengths are freed.
   */
  synchronized void give(Pointer block) {
    Key key =
        new Key(block instanceof FloatPointer ? DType.FLOAT32 : DType.FLOAT64, block.capacity());
    if (key.bytes() > limit) {
      block.close();
      return;
    }
    Iterator<Map.Entry<Key, ArrayDeque<Pointer>>> eldest = free.entrySet().iterator();
    while (pooledBytes + key.bytes() > limit) {
      Map.Entry<Key, ArrayDeque<Pointer>> e = eldest.next();
      ArrayDeque<Pointer> blocks = e.getValue();
      while (!blocks.isEmpty() && pooledBytes + key.bytes() > limit) {
        blocks.pop().close();
        pooledBytes -= e.getKey().bytes();
      }
      if (blocks.isEmpty()) {
        eldest.remove();
      }
    }
    free.computeIfAbsent(key, k -> new ArrayDeque<>()).push(block);
    pooledBytes += key.bytes();
  }

  /** Frees every pooled block. */
  synchronized void clear() {
    free.values().forEach(blocks -> blocks.forEach(Pointer::close));
    free.clear();
    pooledBytes = 0;
  }

  /** The bytes held for reuse now. */
  synchronized long pooledBytes() {
    return pooledBytes;
  }

  /** How many blocks {@link #take} has allocated rather than reused, ever. */
  synchronized long freshBlocks() {
    return freshBlocks;
  }
}
