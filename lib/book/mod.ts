/**
 * The book's own models and experiments: the MNIST classifiers (notebooks 03, 04, 13), the
 * MNIST and face GANs, the appendices, and the GAN quality metrics with their judge.
 * @module
 */
export {
  APPENDIX_B_COUNTS,
  APPENDIX_B_IMAGES,
  balancedLoss,
  coinEntropy,
  continuousPath,
  CONV_EXAMPLES,
  convOutputSize,
  convTransposeOutputSize,
  crossEntropyTable,
  entropyCurve,
  GAME_DEFAULTS,
  linspace,
  lossCurves,
  lossOf,
  numberGrids,
  pixelFrequencies,
  pixelProbabilities,
  playGame,
  radii,
  runConvExample,
  sampleImage,
  sampleImages,
  transposedAsConv,
} from "./appendix.ts";
export type {
  ConvExample,
  ConvResult,
  CrossEntropyRow,
  GameMethod,
  GameOptions,
  NumberGrid,
} from "./appendix.ts";
export {
  BOOK_ACCURACY,
  CHECKPOINT_MODULE,
  Classifier,
  CLASSIFIER_CHECKPOINT,
  CLASSIFIER_VARIANTS,
  evaluate,
  HIDDEN_SIZE,
  LEAKY_SLOPE,
  loadClassifier,
  makeClassifier,
  parseVariant,
  score,
  SGD_LR,
  trainEpochs,
  VARIANT_DESCRIPTIONS,
} from "./classifier.ts";
export type { ClassifierVariant, EvaluateOptions, TrainEpochsOptions } from "./classifier.ts";
export {
  CNN_BOOK_ACCURACY,
  CNN_BOOK_EPOCHS,
  CNN_CHECKPOINT,
  CNN_CHECKPOINT_MODULE,
  CNN_FEATURES,
  CNN_FILTERS,
  CNN_LEAKY_SLOPE,
  CNN_QUICK_CHECKPOINT,
  CNN_SIDE_1,
  CNN_SIDE_2,
  CnnClassifier,
  cnnNetwork,
  evaluateCnn,
  loadCnn,
  saveCnn,
  toImages,
} from "./cnn.ts";
export type { EvaluateCnnOptions } from "./cnn.ts";
export {
  CELEBA_IMAGE,
  CONV_FEATURES,
  ConvFaceDiscriminator,
  convFaceDiscriminatorNetwork,
  ConvFaceGenerator,
  convFaceGeneratorNetwork,
  CROP_SIZE,
  FACE_LR,
  faceGanMemory,
  faceImageCount,
  FcFaceDiscriminator,
  fcFaceDiscriminatorNetwork,
  FcFaceGenerator,
  fcFaceGeneratorNetwork,
  FULL_EPOCH_ENV,
  generateImage,
  trainFaceGan,
} from "./face_gan.ts";
export type {
  ConvFaceOptions,
  FaceActivation,
  FaceGanMemory,
  FcFaceOptions,
  ImageCount,
} from "./face_gan.ts";
export {
  CLASSIFIER_PATH,
  CLASSIFIER_QUICK_PATH,
  CLASSIFIER_SEED,
  getMnistClassifier,
  QUICK_CLASSIFIER_SAMPLES,
} from "./judge.ts";
export type { ClassifierOptions } from "./judge.ts";
export {
  allFinite,
  epochOrder,
  MNIST_GAN_HIDDEN,
  MNIST_GAN_LR,
  MNIST_GAN_SLOPE,
  MnistDiscriminator,
  MnistGenerator,
  SEED_SIZE,
  stepsPerEpoch,
  trainEpoch,
} from "./mnist_gan.ts";
export type { EpochResult, MnistGanOptions, StepInfo, TrainEpochOptions } from "./mnist_gan.ts";
export {
  classifierFeatures,
  classifierScore,
  COVERAGE_MIN_FRACTION,
  evaluateGan,
  frechetDistance,
  frechetFromStats,
  judgeGenerator,
  labelAccuracy,
  modeCoverage,
  realTestImages,
} from "./quality.ts";
export type { Coverage, GanQuality, JudgeOptions } from "./quality.ts";
export { NonFiniteWeightsError, ResumableRun } from "./resumable.ts";
export type { ResumableRunOptions, RunOption } from "./resumable.ts";
