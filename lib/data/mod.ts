/**
 * Data sets and their files: CSV parsing, MNIST, CelebA and its HDF5 file, images in zip
 * files or folders, the synthetic cartoon faces, and atomic file writes.
 * @module
 */
export { exists, writeAtomic } from "./atomic.ts";
export {
  CELEBA_FILE,
  CelebADataset,
  cropCentre,
  DATA_DIR,
  DEFAULT_CELEBA_COUNT,
  defaultCelebaPath,
  makeCelebaHdf5,
  makeSyntheticFaces,
  SYNTHETIC_COUNT,
  SYNTHETIC_FILE,
} from "./celeba.ts";
export type { ConvertOptions, ConvertResult, Crop, SkippedEntry } from "./celeba.ts";
export {
  CsvError,
  forEachCsvRow,
  parseNumericCsv,
  readNumericCsv,
  readTextLines,
  toNumber,
} from "./csv.ts";
export type {
  CsvLocation,
  CsvRowHandler,
  CsvRowOptions,
  NumericCsv,
  NumericCsvOptions,
  ReadNumericCsvOptions,
} from "./csv.ts";
export {
  DEFAULT_FACE_COUNT,
  DEFAULT_FACE_SEED,
  FACE_HEIGHT,
  FACE_WIDTH,
  generateFace,
  HAIR_STYLES,
  mulberry32,
  SYNTHETIC_NOTE,
} from "./faces.ts";
export type { FaceTraits, HairStyle } from "./faces.ts";
export {
  CELEBA_GROUP,
  CELEBA_SHAPE,
  CelebaHdf5Writer,
  describeHdf5,
  GZIP_LEVEL,
  h5,
  imageName,
  readHdf5Array,
} from "./hdf5.ts";
export type { Hdf5Description } from "./hdf5.ts";
export {
  MNIST_CLASSES,
  MNIST_DATA_COMMAND,
  MNIST_PIXELS,
  MNIST_SIDE,
  MNIST_TEST_CSV,
  MNIST_TRAIN_CSV,
  MnistDataset,
  readMnistIdx,
  writeMnistCsv,
} from "./mnist.ts";
export type { MnistBatch, MnistItem, MnistLoadOptions, MnistRaw, MnistSplit } from "./mnist.ts";
export {
  decodeJpeg,
  encodeJpeg,
  folderEntries,
  imageEntries,
  isJpegName,
  MAX_ENTRY_BYTES,
  zipEntries,
} from "./zip_images.ts";
export type { ImageEntry, RgbImage } from "./zip_images.ts";
