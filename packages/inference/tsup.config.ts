import { libraryConfig } from '@switchyard/config/tsup';

export default libraryConfig();
