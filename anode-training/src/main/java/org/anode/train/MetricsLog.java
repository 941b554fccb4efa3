package org.anode.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-epoch metrics file of one run: CSV if the name ends in {@code .csv}, else JSON lines.
 * Columns are fixed: the run's description (in the order given) followed by {@link EpochMetrics}'s
 * fields. A new run starts the file afresh; a resumed run keeps the rows up to the epoch of its
 * checkpoint and drops the rest (rows of epochs whose checkpoint was never written would otherwise
 * appear twice). A row is appended only after that epoch's checkpoint is saved, and an existing
 * file is replaced only when the new run's first row is written.
 */
public final class MetricsLog {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final boolean csv;
  private final String header;
  private final String csvPrefix;
  private final Map<String, String> run;
  private static final int METRIC_COLUMNS = EpochMetrics.CSV_HEADER.split(",").length;
  private List<String> pending; // what the file will hold before the first appended row

  public MetricsLog(Path path, Map<String, String> run) {
    this.path = path;
    this.csv = path.toString().endsWith(".csv");
    this.run = new LinkedHashMap<>(run);
    StringBuilder h = new StringBuilder();
    StringBuilder c = new StringBuilder();
    for (var e : run.entrySet()) {
      h.append(e.getKey()).append(',');
      c.append(csvValue(e.getValue())).append(',');
    }
    this.header = h + EpochMetrics.CSV_HEADER;
    this.csvPrefix = c.toString();
  }

  /**
   * Prepares the file for a run that continues after {@code epochsDone} finished epochs (0 for a
   * new run): the header, then the existing rows of epochs 1..epochsDone. Checks now that the file
   * can be written; the file itself changes only with the first {@link #append}.
   */
  public void start(int epochsDone) throws IOException {
    List<String> keep = new ArrayList<>();
    if (csv) {
      keep.add(header);
    }
    if (epochsDone > 0 && Files.exists(path)) {
      List<String> lines = read();
      int first = 0;
      if (csv) {
        if (lines.isEmpty() || !lines.get(0).equals(header)) {
          throw new IOException(
              path
                  + ": its columns ("
                  + (lines.isEmpty() ? "none" : lines.get(0))
                  + ") differ from this run's ("
                  + header
                  + "); give another --metrics file");
        }
        first = 1;
      }
      for (String line : lines.subList(first, lines.size())) {
        int epoch = epochOf(line);
        if (epoch >= 1 && epoch <= epochsDone) {
          keep.add(line);
        }
      }
    }
    try {
      Path dir = path.toAbsolutePath().getParent();
      if (dir != null) {
        Files.createDirectories(dir);
      }
      if (Files.exists(path) && !Files.isRegularFile(path)) {
        throw new IOException("not a regular file");
      }
      // Can a file be written there? Checked now; the file itself is replaced with the first row.
      Path probe = path.resolveSibling(path.getFileName() + ".tmp");
      Files.write(probe, new byte[0]);
      Files.delete(probe);
    } catch (IOException e) {
      throw new IOException(
          path + ": cannot write the metrics file (" + Checkpoint.describe(e) + ")", e);
    }
    pending = keep;
  }

  /**
   * Appends the row of one finished epoch; the first row after {@link #start} replaces the file
   * atomically by the kept rows and itself, so that the previous file stays whole until then.
   */
  public void append(EpochMetrics m) throws IOException {
    String line = csv ? csvPrefix + m.csv() : jsonLine(m);
    try {
      if (pending != null) {
        List<String> lines = new ArrayList<>(pending);
        lines.add(line);
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        Files.write(tmp, lines, StandardCharsets.UTF_8);
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        pending = null;
      } else {
        Files.write(
            path,
            List.of(line),
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      }
    } catch (IOException e) {
      throw new IOException(
          path + ": cannot write the metrics file (" + Checkpoint.describe(e) + ")", e);
    }
  }

  private List<String> read() throws IOException {
    try {
      return Files.readAllLines(path, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IOException(
          path + ": cannot read the metrics file (" + Checkpoint.describe(e) + ")", e);
    }
  }

  private int epochOf(String line) {
    if (csv) {
      // Counted from the end: the run's values before it may hold quoted commas.
      String[] cells = line.split(",", -1);
      int at = cells.length - METRIC_COLUMNS;
      try {
        return at >= 0 ? Integer.parseInt(cells[at].trim()) : -1;
      } catch (NumberFormatException e) {
        return -1;
      }
    }
    try {
      return JSON.readTree(line).path("epoch").asInt(-1);
    } catch (JsonProcessingException e) {
      return -1; // a torn last line of an interrupted run
    }
  }

  /** One JSON object: the run's description, then the epoch's metrics. */
  private String jsonLine(EpochMetrics m) throws IOException {
    Map<String, Object> row = new LinkedHashMap<>(run);
    row.putAll(m.fields());
    return JSON.writeValueAsString(row);
  }

  private static String csvValue(String v) {
    if (v.contains(",") || v.contains("\"") || v.contains("\n")) {
      return '"' + v.replace("\"", "\"\"") + '"';
    }
    return v;
  }
}
