package org.anode.spark;

import java.io.Serializable;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * The body of a barrier stage's task, in the form Spark's {@code RDDBarrier.mapPartitions} takes:
 * it runs one {@link EpochTask} as the worker whose rank is the task's partition, with worker 0 at
 * the address of the stage's first task.
 */
final class BarrierEpoch extends AbstractFunction1<Iterator<Integer>, Iterator<EpochTask.Report>>
    implements Serializable {
  private static final long serialVersionUID = 1L;
  private final EpochTask task;

  BarrierEpoch(EpochTask task) {
    this.task = task;
  }

  @Override
  public Iterator<EpochTask.Report> apply(Iterator<Integer> partition) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    int workers = ctx.getTaskInfos().length;
    try {
      String root = ctx.getTaskInfos()[0].address();
      // "host:port" of worker 0's executor (IPv6 hosts in brackets): the host is what we need.
      String host = root.substring(0, Math.max(root.lastIndexOf(':'), 0));
      host = host.isEmpty() ? root : host.replace("[", "").replace("]", "");
      EpochTask.Report r =
          task.run(ctx.partitionId(), workers, host, ctx::allGather, ctx::isInterrupted);
      return CollectionConverters.asScala(List.of(r).iterator());
    } catch (java.io.IOException e) {
      TaskFailures.record(task.job(), e);
      throw new java.io.UncheckedIOException(e);
    } catch (RuntimeException | Error e) {
      TaskFailures.record(task.job(), e);
      throw e;
    }
  }
}
