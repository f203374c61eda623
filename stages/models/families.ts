// Every architecture family, listed by hand as Keras Applications lists its modules: adding an
// architecture is one family file and one line here. Static imports, so a bundle holds them all
// and a missing family is a compile error, not a lookup that silently finds nothing.
import type { ArchSpec } from './arch-spec.js';
import * as densenet from './densenet.js';
import * as inceptionV3 from './inception-v3.js';
import * as mobilenet from './mobilenet.js';
import * as resnet from './resnet.js';
import * as smallCnn from './small-cnn.js';
import * as vgg from './vgg.js';
import * as xception from './xception.js';

export interface Family {
  /** The family's file under stages/models/, without `.ts`. */
  file: string;
  architectures: readonly ArchSpec[];
}

export const FAMILIES: readonly Family[] = [
  { file: 'densenet', architectures: densenet.architectures },
  { file: 'inception-v3', architectures: inceptionV3.architectures },
  { file: 'mobilenet', architectures: mobilenet.architectures },
  { file: 'resnet', architectures: resnet.architectures },
  { file: 'small-cnn', architectures: smallCnn.architectures },
  { file: 'vgg', architectures: vgg.architectures },
  { file: 'xception', architectures: xception.architectures },
];
