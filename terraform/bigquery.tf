# BigQuery reads the lake in place: a dataset and external tables over the
# window files (docs/lake.md shows queries). The tables hold no data; reading
# them needs read access to the bucket (roles/storage.objectViewer) besides
# the BigQuery roles.
#
# One lake prefix holds windows of one shape (duration, slide, watermark
# delay): the consumer records it in the sibling object <prefix>_shape, which
# neither table's URI matches, and refuses to start with another shape
# (docs/lake.md, "One prefix, one window shape"). A table over a prefix
# therefore never mixes window shapes; a new shape means a new prefix and a
# new table over it.

locals {
  # BigQuery wants a multi-region in capitals (US, EU) and a region in lower
  # case; the dataset must sit where the bucket is.
  bigquery_location = length(regexall("-", local.bucket_location)) > 0 ? lower(local.bucket_location) : upper(local.bucket_location)

  # The window file columns: the header is
  # ,CA,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS
  # whose empty first name is the pandas index column (docs/lake.md).
  lake_schema = [
    { name = "idx", type = "INTEGER", mode = "NULLABLE", description = "Row index within the file (the pandas index column; empty name in the header)." },
    { name = "CA", type = "STRING", mode = "NULLABLE", description = "Control area." },
    { name = "UNIT", type = "STRING", mode = "NULLABLE", description = "Remote unit." },
    { name = "SCP", type = "STRING", mode = "NULLABLE", description = "Subunit channel position (the turnstile)." },
    { name = "STATION", type = "STRING", mode = "NULLABLE", description = "Station name." },
    { name = "LINENAME", type = "STRING", mode = "NULLABLE", description = "Lines that stop at the station." },
    { name = "DIVISION", type = "STRING", mode = "NULLABLE", description = "Original subway division." },
    { name = "DATE", type = "STRING", mode = "NULLABLE", description = "MM/DD/YYYY of the window end." },
    { name = "TIME", type = "STRING", mode = "NULLABLE", description = "HH:MM:SS of the window end." },
    { name = "DESC", type = "STRING", mode = "NULLABLE", description = "Audit description." },
    { name = "ENTRIES", type = "INTEGER", mode = "NULLABLE", description = "Entries in the window." },
    { name = "EXITS", type = "INTEGER", mode = "NULLABLE", description = "Exits in the window." },
  ]

  # Every window file, in either layout: BigQuery's * matches "/" too.
  lake_uri = "gs://${local.bucket_name}/${local.lake_prefix}/*.csv.gz"
}

resource "google_bigquery_dataset" "lake" {
  dataset_id    = var.bigquery_dataset_id
  friendly_name = "turnstile-stream lake"
  description   = "External tables over the turnstile-stream data lake in gs://${local.bucket_name}."
  location      = local.bigquery_location

  depends_on = [google_project_service.this]
}

# The window files as one table: CSV, gzip, one header row.
resource "google_bigquery_table" "windows" {
  dataset_id          = google_bigquery_dataset.lake.dataset_id
  table_id            = "turnstile_windows"
  description         = "Closed windows written by the consumer (${local.lake_uri}), all of one window shape: the one recorded in gs://${local.bucket_name}/${local.lake_prefix}_shape."
  deletion_protection = var.bigquery_deletion_protection

  external_data_configuration {
    autodetect    = false
    source_format = "CSV"
    compression   = "GZIP"
    source_uris   = [local.lake_uri]
    schema        = jsonencode(local.lake_schema)

    csv_options {
      quote                 = "\""
      skip_leading_rows     = 1
      allow_quoted_newlines = true
    }
  }
}

# With lake_layout = "hive", the same files with dt (the date of the window
# end, from the dt=YYYY-MM-DD folder) as a partition column, so a filter on dt
# reads only that day's files.
resource "google_bigquery_table" "windows_by_day" {
  count = var.lake_layout == "hive" ? 1 : 0

  dataset_id          = google_bigquery_dataset.lake.dataset_id
  table_id            = "turnstile_windows_by_day"
  description         = "Closed windows, partitioned by dt (the date of the window end), all of one window shape: the one recorded in gs://${local.bucket_name}/${local.lake_prefix}_shape."
  deletion_protection = var.bigquery_deletion_protection

  external_data_configuration {
    autodetect    = false
    source_format = "CSV"
    compression   = "GZIP"
    source_uris   = ["gs://${local.bucket_name}/${local.lake_prefix}/dt=*"]
    schema        = jsonencode(local.lake_schema)

    csv_options {
      quote                 = "\""
      skip_leading_rows     = 1
      allow_quoted_newlines = true
    }

    hive_partitioning_options {
      mode                     = "CUSTOM"
      source_uri_prefix        = "gs://${local.bucket_name}/${local.lake_prefix}/{dt:DATE}"
      require_partition_filter = false
    }
  }
}

# --- The ridership feed (var.ridership; ridership.tf): the same two tables
# over ridership/, whose window files have no index column. Their header is
#   station_complex_id,station_complex,borough,payment_method,fare_class_category,window_start,window_end,ridership,transfers
# window_start and window_end are YYYY-MM-DD HH:MM:SS in the source's naive
# New York time (no zone), hence DATETIME, not TIMESTAMP; ridership and
# transfers are whole-number sums over the window. The prefix has its own
# shape marker, ridership_shape, which neither URI matches.

locals {
  ridership_schema = [
    { name = "station_complex_id", type = "STRING", mode = "NULLABLE", description = "Station complex ID (the Kafka message key)." },
    { name = "station_complex", type = "STRING", mode = "NULLABLE", description = "Station complex name, with its lines." },
    { name = "borough", type = "STRING", mode = "NULLABLE", description = "Borough of the station complex." },
    { name = "payment_method", type = "STRING", mode = "NULLABLE", description = "omny or metrocard." },
    { name = "fare_class_category", type = "STRING", mode = "NULLABLE", description = "Fare class category, e.g. Metrocard - Full Fare." },
    { name = "window_start", type = "DATETIME", mode = "NULLABLE", description = "Window start, New York local time (no zone)." },
    { name = "window_end", type = "DATETIME", mode = "NULLABLE", description = "Window end, New York local time (no zone)." },
    { name = "ridership", type = "INT64", mode = "NULLABLE", description = "Entries in the window (sum of the hourly ridership)." },
    { name = "transfers", type = "INT64", mode = "NULLABLE", description = "Transfers in the window (sum of the hourly transfers)." },
  ]

  # Every ridership window file, in either layout.
  ridership_uri = "gs://${local.bucket_name}/${local.ridership_prefix}/*.csv.gz"
}

resource "google_bigquery_table" "ridership" {
  count = local.ridership ? 1 : 0

  dataset_id          = google_bigquery_dataset.lake.dataset_id
  table_id            = "ridership_windows"
  description         = "Closed ridership windows written by the ridership consumer (${local.ridership_uri}), all of one window shape: the one recorded in gs://${local.bucket_name}/${local.ridership_prefix}_shape."
  deletion_protection = var.bigquery_deletion_protection

  external_data_configuration {
    autodetect    = false
    source_format = "CSV"
    compression   = "GZIP"
    source_uris   = [local.ridership_uri]
    schema        = jsonencode(local.ridership_schema)

    csv_options {
      quote                 = "\""
      skip_leading_rows     = 1
      allow_quoted_newlines = true
    }
  }
}

# With lake_layout = "hive", as windows_by_day: dt is the date of the window
# end (New York local time), from the dt=YYYY-MM-DD folder.
resource "google_bigquery_table" "ridership_by_day" {
  count = local.ridership && var.lake_layout == "hive" ? 1 : 0

  dataset_id          = google_bigquery_dataset.lake.dataset_id
  table_id            = "ridership_windows_by_day"
  description         = "Closed ridership windows, partitioned by dt (the date of the window end), all of one window shape: the one recorded in gs://${local.bucket_name}/${local.ridership_prefix}_shape."
  deletion_protection = var.bigquery_deletion_protection

  external_data_configuration {
    autodetect    = false
    source_format = "CSV"
    compression   = "GZIP"
    source_uris   = ["gs://${local.bucket_name}/${local.ridership_prefix}/dt=*"]
    schema        = jsonencode(local.ridership_schema)

    csv_options {
      quote                 = "\""
      skip_leading_rows     = 1
      allow_quoted_newlines = true
    }

    hive_partitioning_options {
      mode                     = "CUSTOM"
      source_uri_prefix        = "gs://${local.bucket_name}/${local.ridership_prefix}/{dt:DATE}"
      require_partition_filter = false
    }
  }
}
