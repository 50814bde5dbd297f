import { runMain } from '../util/runMain';
import { trainCommand } from './trainCommand';

runMain(trainCommand);
